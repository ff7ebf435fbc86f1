-- vpn-ca-2026, part 2: retire the 2024 VPN CA.
--
-- Runs on the router after the certificate part has stored the 2026 CA under the name vpn-ca.
-- Removes the old CA (vpn-ca-2024) only if vpn-ca really holds the 2026 CA, so a router on
-- which the certificate part failed keeps a working tunnel.

local CERT_DIR = "/etc/certificates/ca"
local NEW_CA = CERT_DIR .. "/vpn-ca.pem"
local OLD_CA = CERT_DIR .. "/vpn-ca-2024.pem"
local EXPECTED_SUBJECT = "CN = Nordlicht VPN Root CA 2026"

local function log(message)
  os.execute(string.format("logger -t vpn-ca-2026 %q", message))
end

local function file_exists(path)
  local handle = io.open(path, "r")
  if handle then
    handle:close()
    return true
  end
  return false
end

local function subject_of(path)
  local pipe = io.popen(string.format("openssl x509 -noout -subject -nameopt oneline -in %q 2>/dev/null", path))
  if not pipe then
    return nil
  end
  local output = pipe:read("*a") or ""
  pipe:close()
  return output
end

if not file_exists(NEW_CA) then
  log("vpn-ca not found; keeping vpn-ca-2024")
  return 1
end

local subject = subject_of(NEW_CA)
if not subject or not subject:find(EXPECTED_SUBJECT, 1, true) then
  log("vpn-ca does not hold the 2026 CA; keeping vpn-ca-2024")
  return 1
end

if file_exists(OLD_CA) then
  local ok, err = os.remove(OLD_CA)
  if not ok then
    log("could not remove vpn-ca-2024: " .. tostring(err))
    return 1
  end
  log("vpn-ca-2024 removed; the tunnel now trusts the 2026 CA only")
else
  log("vpn-ca-2024 already gone")
end
return 0
