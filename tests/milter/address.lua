-- Recipient addresses through the milter protocol: spellings of one
-- required mailbox (must@smilla.test, in the table, without a key) are
-- refused, so are addresses with control characters or no domain, and
-- the same recipient named three ways is one recipient.
dofile(os.getenv("MT_DIR") .. "/lib.lua")

local conn = lib.connect()

local function refused(id, rcpt, what)
	lib.check(mt.rcptto(conn, rcpt) == nil, id .. ": RCPT " .. string.sub(what, 1, 40))
	lib.check(mt.getreply(conn) == SMFIR_REPLYCODE, id .. ": refused: " .. what)
end

mt.macro(conn, SMFIC_MAIL, "i", "ADDR1")
lib.check(mt.mailfrom(conn, "<sender@client.test>") == nil, "ADDR1: MAIL")
refused("ADDR1", "<MUST@smilla.test>", "MUST@ (table: must@)")
refused("ADDR1", "<\"must\"@smilla.test>", "\"must\"@")
refused("ADDR1", "<\"Must\"@Smilla.Test>", "\"Must\"@Smilla.Test")
refused("ADDR1", "<@relay.test:\"m\\ust\"@smilla.test>", "source route, quoted pair")
-- (miltertest cannot send an argument past 1 KB: "Input overflow";
-- 1100-octet local parts go through Postfix in tests/e2e/milter.t.)
refused("ADDR1", "<ca\27[31mrol@smilla.test>", "ESC in the local part")
refused("ADDR1", "<no-domain>", "no domain")
lib.check(mt.rcptto(conn, "<alice@smilla.test>") == nil, "ADDR1: RCPT alice")
lib.check(mt.getreply(conn) == SMFIR_CONTINUE, "ADDR1: alice continues")
lib.content(conn, "ADDR1", lib.plain_headers, { "x\r\n" })
lib.encrypted(conn, "ADDR1")

-- One recipient, three spellings: accepted, encrypted to once.
lib.envelope(conn, "ADDR2", { "alice@smilla.test", "ALICE@smilla.test", "\"alice\"@smilla.test" })
lib.content(conn, "ADDR2", lib.plain_headers, { "x\r\n" })
local status = lib.eom(conn, "ADDR2")
lib.check(status ~= nil and string.find(status, "encrypted smime; recipients=1;", 1, true),
	  "ADDR2: one recipient: " .. tostring(status))
mt.disconnect(conn)
