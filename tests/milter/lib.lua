-- lib.lua - shared by the miltertest scripts: connect to the milter
-- under test (socket in $MT_SOCK) and drive one message.  Every check
-- raises an error, so a failing script exits non-zero.

lib = {}

function lib.check(cond, what)
	if not cond then
		error("FAILED: " .. what, 2)
	end
	mt.echo("ok: " .. what)
end

-- A connection with SMTP connection and HELO data sent.
function lib.connect()
	local conn = mt.connect(os.getenv("MT_SOCK"), 40, 0.25)
	lib.check(conn ~= nil, "connected to the milter")
	lib.check(mt.conninfo(conn, "client.test", "127.0.0.1") == nil,
		  "connect callback")
	lib.check(mt.getreply(conn) == SMFIR_CONTINUE, "connect: continue")
	lib.check(mt.helo(conn, "client.test") == nil, "helo callback")
	return conn
end

-- MAIL FROM and the recipients; every one must be accepted.
function lib.envelope(conn, id, rcpts)
	mt.macro(conn, SMFIC_MAIL, "i", id)
	lib.check(mt.mailfrom(conn, "<sender@client.test>") == nil, id .. ": MAIL")
	lib.check(mt.getreply(conn) == SMFIR_CONTINUE, id .. ": MAIL continues")
	for _, r in ipairs(rcpts) do
		lib.check(mt.rcptto(conn, "<" .. r .. ">") == nil, id .. ": RCPT " .. r)
		lib.check(mt.getreply(conn) == SMFIR_CONTINUE,
			  id .. ": RCPT " .. r .. " continues")
	end
end

-- Headers (a list of {name, value}), then the body pieces.
function lib.content(conn, id, headers, pieces)
	for _, h in ipairs(headers) do
		lib.check(mt.header(conn, h[1], h[2]) == nil, id .. ": header " .. h[1])
	end
	lib.check(mt.eoh(conn) == nil, id .. ": EOH")
	for _, p in ipairs(pieces) do
		lib.check(mt.bodystring(conn, p) == nil, id .. ": body piece")
	end
end

lib.plain_headers = {
	{ "From", "Sender <sender@client.test>" },
	{ "To", "alice@smilla.test" },
	{ "Subject", "test" },
	{ "Content-Type", "text/plain; charset=utf-8" },
}

-- End of message: accepted (continue or accept), and the status header.
function lib.eom(conn, id)
	lib.check(mt.eom(conn) == nil, id .. ": EOM")
	local r = mt.getreply(conn)
	lib.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT,
		  id .. ": message accepted")
	local status = mt.getheader(conn, "X-Smilla", 0)
	return status
end

function lib.encrypted(conn, id)
	local status = lib.eom(conn, id)
	lib.check(status ~= nil and string.find(status, "encrypted smime", 1, true),
		  id .. ": status says encrypted: " .. tostring(status))
	lib.check(mt.eom_check(conn, MT_BODYCHANGE), id .. ": body replaced")
	lib.check(mt.eom_check(conn, MT_HDRADD, "Content-Transfer-Encoding"),
		  id .. ": Content-Transfer-Encoding added")
end

function lib.plaintext(conn, id, reason)
	local status = lib.eom(conn, id)
	lib.check(status ~= nil and
		  string.find(status, "plaintext; reason=" .. reason, 1, true),
		  id .. ": status says plaintext, " .. reason .. ": " .. tostring(status))
	lib.check(not mt.eom_check(conn, MT_BODYCHANGE), id .. ": body untouched")
end

-- Verified already encrypted: body kept, our own status header.
function lib.untouched(conn, id, format)
	local status = lib.eom(conn, id)
	lib.check(status ~= nil and string.find(status,
		  "untouched; reason=already-encrypted; format=" .. format .. ";",
		  1, true), id .. ": status says untouched, " .. format .. ": " ..
		  tostring(status))
	lib.check(not mt.eom_check(conn, MT_BODYCHANGE), id .. ": body untouched")
end

return lib
