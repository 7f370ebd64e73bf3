-- spill.lua - one message whose body is larger than max_memory_body
-- (tests/e2e/privs.t sets 4096), held open between the body and the
-- end of message until the file $MT_GO exists, so that the caller can
-- look at the milter's spill file while it exists.  The recipient has
-- no key: the body is kept (the milter only knows at the end) but
-- never replaced (miltertest itself crashes on a big replaced body).
dofile(os.getenv("MT_DIR") .. "/lib.lua")

local conn = lib.connect()
lib.envelope(conn, "SPILL", { "nobody@smilla.test" })
local line, pieces = string.rep("s", 76) .. "\r\n", {}
for i = 1, 16 do pieces[i] = string.rep(line, 50) end	-- 16 x 3900 octets
lib.content(conn, "SPILL", lib.plain_headers, pieces)
local go, waited = os.getenv("MT_GO"), 0
while waited < 300 do
	local f = io.open(go, "r")
	if f then f:close() break end
	os.execute("sleep 0.1")
	waited = waited + 1
end
lib.check(waited < 300, "SPILL: the caller said go within 30 s")
lib.plaintext(conn, "SPILL", "no-key")
mt.disconnect(conn)
