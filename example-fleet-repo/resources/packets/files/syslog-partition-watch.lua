-- syslog-hardening, part 2: keep the log partition from filling up.
--
-- With the persistent log switched on (part 1), a router that cannot reach its syslog server
-- for days queues and rotates locally. This script runs once after the packet is applied and
-- then from the daily cron: above 85 % usage it deletes the oldest rotated files first, never
-- the active log.

local LOG_DIR = "/var/log/persistent"
local LIMIT_PERCENT = 85

local function log(message)
  os.execute(string.format("logger -t syslog-hardening %q", message))
end

local function usage_percent(path)
  local pipe = io.popen(string.format("df -P %q 2>/dev/null", path))
  if not pipe then
    return nil
  end
  local output = pipe:read("*a") or ""
  pipe:close()
  return tonumber(output:match("(%d+)%%"))
end

local function rotated_files(dir)
  local files = {}
  local pipe = io.popen(string.format("ls -1tr %q 2>/dev/null", dir))
  if not pipe then
    return files
  end
  for name in pipe:lines() do
    if name:match("%.%d+%.gz$") or name:match("%.%d+$") then
      table.insert(files, dir .. "/" .. name)
    end
  end
  pipe:close()
  return files
end

local used = usage_percent(LOG_DIR)
if not used then
  log("cannot read the usage of " .. LOG_DIR)
  return 1
end

local removed = 0
for _, path in ipairs(rotated_files(LOG_DIR)) do
  if used <= LIMIT_PERCENT then
    break
  end
  if os.remove(path) then
    removed = removed + 1
    used = usage_percent(LOG_DIR) or 0
  end
end

if removed > 0 then
  log(string.format("removed %d rotated log files, partition now at %d %%", removed, used))
end
return 0
