-- wrk script for bench/ws1/run.sh: POSTs the Workspace ONE sample enrollment
-- event (EventId 148) with a distinct DeviceUUID per request, so every
-- request is a new event for the gateway (stored with its job) rather than a
-- duplicate. Environment:
--   WS1_AUTH   value of the Authorization header (Basic ...)
--   WS1_RUN    a number unique to this wrk run (part of every DeviceUUID)
-- After wrk's own report it prints one line "BENCH {json}" (same format as
-- bench/http/wrk-report.lua): throughput, latency percentiles (ms), errors.
-- Non-2xx/3xx answers count as errors (wrk's status errors).

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local counter = 0
local run = tonumber(os.getenv("WS1_RUN") or "0")
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = os.getenv("WS1_AUTH") or "",
}

-- The example enrollment event of Workspace ONE UEM's Credential Escrow Gateway
-- guide, with %s for the DeviceUUID and an address: the bench connector has no
-- UEM API to look one up, and an event whose credentials could not be
-- delivered is refused at intake.
local template = '{"EventId":148,"EventType":"MDM Enrollment Complete","DeviceId":15,' ..
  '"DeviceFriendlyName":"zenny iPod Touch Apple 12.4.5 GGK6","EnrollmentEmailAddress":"zenny@example.com",' ..
  '"EnrollmentUserName":"zenny","EventTime":"2020-02-24T16:52:25.9231303Z","EnrollmentStatus":"Enrolled",' ..
  '"CompromisedStatus":"","CompromisedTimeStamp":"2020-02-24T16:52:28.9075371Z","ComplianceStatus":"Compliant",' ..
  '"PhoneNumber":"","Udid":"902dca357c02dbc1306ff99ffbf4b9c80218f3a3","SerialNumber":"CCQQ44BMGGK6",' ..
  '"MACAddress":"000000000000","DeviceIMEI":"","EnrollmentUserId":12,' ..
  '"AssetNumber":"902dca357c02dbc1306ff99ffbf4b9c80218f3a3","Platform":"Apple","OperatingSystem":"12.4.5",' ..
  '"Ownership":"CorporateDedicated","SIMMCC":"","CurrentMCC":"","OrganizationGroupName":"CEG",' ..
  '"DeviceUUID":"%s","EnrollmentUserUUID":"fe13e814-7415-4fce-9f47-de5a55bfe57a"}'

request = function()
  counter = counter + 1
  local uuid = string.format("%08x-%04x-4000-8000-%012x", run, tid or 0, counter)
  return wrk.format("POST", nil, headers, string.format(template, uuid))
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH {"tool":"wrk","requests":%d,"seconds":%.3f,"rps":%.1f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
