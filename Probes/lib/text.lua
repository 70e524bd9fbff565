-- Text helpers that stay linear on hostile input. Lua patterns such as "%s*(.-)%s*$" backtrack
-- quadratically or worse inside one C call, where no instruction budget runs: a header or page
-- of a long run of spaces would hold the worker. These use plain finds and anchored classes only.
local M = {}

-- s without leading and trailing white space.
function M.trim(s)
  local first = s:find("%S")
  if not first then return "" end
  local last = #s - s:reverse():find("%S") + 1
  return s:sub(first, last)
end

-- "Key: value" -> key, trimmed value (at most max bytes of the line, 1024 by default); nil when
-- the line has no key.
function M.header(line, max)
  line = line:sub(1, max or 1024)
  local colon = line:find(":", 1, true)
  if not colon or colon == 1 then return nil end
  return line:sub(1, colon - 1), M.trim(line:sub(colon + 1))
end

-- The trimmed text of the first <tag ...>...</tag> in s, tag matched without regard to case.
function M.element(s, tag)
  local lower = s:lower()
  local open = lower:find("<" .. tag, 1, true)
  if not open then return nil end
  local start = lower:find(">", open, true)
  if not start then return nil end
  local close = lower:find("</" .. tag, start, true)
  if not close then return nil end
  return M.trim(s:sub(start + 1, close - 1))
end

return M
