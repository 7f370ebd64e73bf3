-- Aborted messages leave nothing behind: the next message on the same
-- connection is judged on its own.
dofile(os.getenv("MT_DIR") .. "/lib.lua")

local conn = lib.connect()
-- Abort in the middle of the body of a message that would be encrypted.
lib.envelope(conn, "AB1", { "alice@smilla.test" })
lib.content(conn, "AB1", lib.plain_headers, { "first half\r\n" })
lib.check(mt.abort(conn) == nil, "AB1: aborted mid-body")
-- Abort after RCPT of a keyless recipient.
lib.envelope(conn, "AB2", { "nobody@smilla.test" })
lib.check(mt.abort(conn) == nil, "AB2: aborted after RCPT")
-- The next message has only alice: encrypted, nobody's state is gone.
lib.envelope(conn, "AB3", { "alice@smilla.test" })
lib.content(conn, "AB3", lib.plain_headers, { "whole message\r\n" })
lib.encrypted(conn, "AB3")
-- Abort after headers, then a plaintext one.
lib.envelope(conn, "AB4", { "alice@smilla.test" })
lib.content(conn, "AB4", lib.plain_headers, {})
lib.check(mt.abort(conn) == nil, "AB4: aborted after headers")
lib.envelope(conn, "AB5", { "nobody@smilla.test" })
lib.content(conn, "AB5", lib.plain_headers, { "plain\r\n" })
lib.plaintext(conn, "AB5", "no-key")
-- Connection dropped mid-message without QUIT.
lib.envelope(conn, "AB6", { "alice@smilla.test" })
lib.content(conn, "AB6", lib.plain_headers, { "cut off" })
mt.disconnect(conn, false)

-- The milter still serves new connections.
conn = lib.connect()
lib.envelope(conn, "AB7", { "alice@smilla.test" })
lib.content(conn, "AB7", lib.plain_headers, { "after a dropped connection\r\n" })
lib.encrypted(conn, "AB7")
mt.disconnect(conn)
