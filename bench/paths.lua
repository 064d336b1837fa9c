-- paths.lua - wrk script of `make bench`: GET the URL paths listed in a
-- file (one per line), round robin, each thread from its own offset.
--   wrk ... -s paths.lua URL -- PATHSFILE
local paths = {}
local counter = 0
local step = 1

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("paths.lua: no paths in " .. args[1]) end
  counter = (thread_id or 0) * 7919
end

function setup(thread)
  thread:set("thread_id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end

function request()
  counter = counter + step
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
-- (non-2xx answers are counted by wrk itself: bench.sh rejects any)
