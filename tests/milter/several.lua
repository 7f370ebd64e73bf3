-- Several messages on one connection, each with its own outcome.
dofile(os.getenv("MT_DIR") .. "/lib.lua")

local conn = lib.connect()
lib.envelope(conn, "M1", { "alice@smilla.test" })
lib.content(conn, "M1", lib.plain_headers, { "one\r\n" })
lib.encrypted(conn, "M1")

lib.envelope(conn, "M2", { "alice@smilla.test", "nobody@smilla.test" })
lib.content(conn, "M2", lib.plain_headers, { "two\r\n" })
lib.plaintext(conn, "M2", "no-key")
local st = mt.getheader(conn, "X-Smilla", 0)
lib.check(string.find(st, "recipients=2; keys=1", 1, true), "M2: counts: " .. st)

-- An S/MIME label over the start of a CMS object (truncated): not
-- encrypted, so encrypted by us; the forged status header deleted.
lib.envelope(conn, "M3", { "alice@smilla.test" })
lib.content(conn, "M3", {
	{ "From", "sender@client.test" },
	{ "X-Smilla", "encrypted smime; recipients=1; cipher=aes256-cbc; authserv=mx.test" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m" },
	{ "Content-Transfer-Encoding", "base64" },
}, { "MIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n" })
lib.encrypted(conn, "M3")
lib.check(mt.eom_check(conn, MT_HDRDELETE, "X-Smilla"),
	  "M3: the forged X-Smilla deleted")

-- Plaintext quoting an armor block is plaintext.
lib.envelope(conn, "M4", { "alice@smilla.test" })
lib.content(conn, "M4", {
	{ "From", "sender@client.test" },
	{ "x-smilla", "untouched; reason=already-encrypted; format=pgp-inline" },
	{ "Content-Type", "text/plain" },
}, { "Hi,\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n" })
lib.encrypted(conn, "M4")
lib.check(mt.eom_check(conn, MT_HDRDELETE, "x-smilla"),
	  "M4: the forged x-smilla deleted")

lib.envelope(conn, "M5", { "alice@smilla.test" })
lib.content(conn, "M5", {
	{ "From", "sender@client.test" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "multipart/mixed; boundary=\"b1\"" },
}, { "--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1--\r\n" })
lib.encrypted(conn, "M5")
lib.check(not mt.eom_check(conn, MT_HDRADD, "MIME-Version"),
	  "M5: MIME-Version kept, not added twice")
-- A real S/MIME EnvelopedData (made by miltertest.t with openssl):
-- untouched, with our status header instead of the forged one.
local f = assert(io.open(os.getenv("MT_SMIME"), "rb"))
local p7m = f:read("a")
f:close()
lib.envelope(conn, "M6", { "alice@smilla.test" })
lib.content(conn, "M6", {
	{ "From", "sender@client.test" },
	{ "X-Smilla", "plaintext; forged" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m" },
	{ "Content-Transfer-Encoding", "base64" },
}, { p7m })
lib.untouched(conn, "M6", "smime")
lib.check(mt.eom_check(conn, MT_HDRDELETE, "X-Smilla"),
	  "M6: the forged X-Smilla deleted")
mt.disconnect(conn)
