-- The callback sequence of one message, checked at every step, for an
-- encrypted message, then a recipient refused at RCPT.
dofile(os.getenv("MT_DIR") .. "/lib.lua")

local conn = lib.connect()
lib.check(mt.test_action(conn, SMFIF_CHGBODY), "negotiated: change body")
lib.check(mt.test_action(conn, SMFIF_ADDHDRS), "negotiated: add headers")
lib.check(mt.test_action(conn, SMFIF_CHGHDRS), "negotiated: change headers")
lib.envelope(conn, "SEQ1", { "alice@smilla.test" })
lib.check(mt.data(conn) == nil, "SEQ1: DATA")
lib.content(conn, "SEQ1", lib.plain_headers, { "hello alice\r\n" })
lib.encrypted(conn, "SEQ1")
lib.check(mt.eom_check(conn, MT_HDRDELETE, "Content-Type"),
	  "SEQ1: old Content-Type deleted")
lib.check(mt.eom_check(conn, MT_HDRADD, "MIME-Version"),
	  "SEQ1: MIME-Version added (there was none)")
local ct = mt.getheader(conn, "Content-Type", 0)
lib.check(ct ~= nil and string.find(ct, "application/pkcs7-mime; smime-type=enveloped-data", 1, true),
	  "SEQ1: new Content-Type: " .. tostring(ct))

-- Required recipient without a key: refused at RCPT with 550 5.7.1.
mt.macro(conn, SMFIC_MAIL, "i", "SEQ2")
lib.check(mt.mailfrom(conn, "<sender@client.test>") == nil, "SEQ2: MAIL")
lib.check(mt.rcptto(conn, "<nobody@required.smilla.test>") == nil, "SEQ2: RCPT")
lib.check(mt.getreply(conn) == SMFIR_REPLYCODE, "SEQ2: required keyless recipient refused")
lib.check(mt.rcptto(conn, "<alice@smilla.test>") == nil, "SEQ2: RCPT alice")
lib.check(mt.getreply(conn) == SMFIR_CONTINUE, "SEQ2: the next recipient is fine")
lib.content(conn, "SEQ2", lib.plain_headers, { "x\r\n" })
lib.encrypted(conn, "SEQ2")
mt.disconnect(conn)
