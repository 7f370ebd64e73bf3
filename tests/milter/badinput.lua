-- Hostile or broken input: the milter answers every message (accepted,
-- or tempfailed), never drops the connection, never crashes.
dofile(os.getenv("MT_DIR") .. "/lib.lua")

local function accepted_or_tempfail(conn, id)
	lib.check(mt.eom(conn) == nil, id .. ": EOM answered")
	local r = mt.getreply(conn)
	lib.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT or
		  r == SMFIR_TEMPFAIL or r == SMFIR_REPLYCODE,
		  id .. ": accepted or tempfailed")
end

local conn = lib.connect()

-- Malformed MIME: broken Content-Type values.  (Kept short: what is
-- encrypted comes back as a replaced body, and miltertest crashes on
-- one past about 1 KB.)
local broken = { "", "/", "text/", "((((", "multipart/mixed; boundary=\"open",
		 "application/pkcs7-mime; smime-type=\"\\", string.rep(";", 200),
		 "text/plain; " .. string.rep("a=b; ", 40) }
for i, v in ipairs(broken) do
	local id = "BAD-CT" .. i
	lib.envelope(conn, id, { "alice@smilla.test" })
	lib.content(conn, id, { { "Content-Type", v } }, { "body\r\n" })
	accepted_or_tempfail(conn, id)
end

-- No headers at all.
lib.envelope(conn, "NOHDR", { "alice@smilla.test" })
lib.content(conn, "NOHDR", {}, { "just a body\r\n" })
lib.encrypted(conn, "NOHDR")

-- Headers only, no body.
lib.envelope(conn, "HDRONLY", { "alice@smilla.test" })
lib.content(conn, "HDRONLY", lib.plain_headers, {})
lib.encrypted(conn, "HDRONLY")

-- NUL octets in the body and in a header value.
lib.envelope(conn, "NUL", { "alice@smilla.test" })
lib.content(conn, "NUL", { { "Subject", "a\0b" }, { "Content-Type", "text/plain" } },
	    { "nul \0 in \0\0 body\r\n" })
accepted_or_tempfail(conn, "NUL")

-- A 1 MB line without line end (in 64 KB pieces, the protocol's
-- largest), to a recipient without key: miltertest itself crashes on a
-- replaced body past about 1 KB, so big encrypted messages are tested
-- through Postfix (tests/e2e/milter.t).
local piece, line = string.rep("z", 65535), {}
for i = 1, 16 do line[i] = piece end
lib.envelope(conn, "LONG", { "nobody@smilla.test" })
lib.content(conn, "LONG", { { "Content-Type", "text/plain; x=" .. string.rep("y", 200) } },
	    line)
lib.plaintext(conn, "LONG", "no-key")

-- Folded header values with bare LF and CRLF inside.
lib.envelope(conn, "FOLD", { "alice@smilla.test" })
lib.content(conn, "FOLD", { { "Content-Type", "text/plain;\n\tcharset=us-ascii;\r\n format=flowed" } },
	    { "folded\r\n" })
lib.encrypted(conn, "FOLD")

-- Strange recipient arguments.
mt.macro(conn, SMFIC_MAIL, "i", "RCPTS")
lib.check(mt.mailfrom(conn, "<>") == nil, "RCPTS: null sender")
local args = { "<>", "no-at-sign", "<@route.test:alice@smilla.test>", "<a@-bad-.test>",
	       "<" .. string.rep("x", 200) .. "@smilla.test>", "<\"quoted local\"@smilla.test>",
	       "<user@[127.0.0.1]>", "<alice@smilla.test" }
for _, a in ipairs(args) do
	lib.check(mt.rcptto(conn, a) == nil, "RCPTS: RCPT " .. string.sub(a, 1, 40))
	local r = mt.getreply(conn)
	lib.check(r == SMFIR_CONTINUE or r == SMFIR_REPLYCODE, "RCPTS: answered")
end
lib.content(conn, "RCPTS", lib.plain_headers, { "x\r\n" })
accepted_or_tempfail(conn, "RCPTS")

-- Many recipients, all without keys.
mt.macro(conn, SMFIC_MAIL, "i", "MANY")
lib.check(mt.mailfrom(conn, "<sender@client.test>") == nil, "MANY: MAIL")
for i = 1, 200 do
	mt.rcptto(conn, "<user" .. i .. "@smilla.test>")
end
lib.check(mt.getreply(conn) == SMFIR_CONTINUE, "MANY: 200 recipients")
lib.content(conn, "MANY", lib.plain_headers, { "x\r\n" })
lib.plaintext(conn, "MANY", "no-key")

-- A message without MAIL FROM state (EOH and body straight after RCPT
-- of a new connection is not possible in the protocol; abort instead).
lib.check(mt.abort(conn) == nil, "abort with no message")
mt.disconnect(conn)
