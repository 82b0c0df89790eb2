-- wrk request script: bearer token, and a JSON body read from a file (POST) or none (GET).
-- Both come from the environment: WRK_TOKEN and WRK_BODY_FILE.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
local path = os.getenv("WRK_BODY_FILE")
if path ~= nil and path ~= "" then
  local file = assert(io.open(path, "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
end
