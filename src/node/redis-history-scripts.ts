/**
 * The Lua scripts of RedisHistory (src/node/redis-history.ts). Each runs atomically in Redis, so the
 * order of offsets, of stream entries and of PUBLISHes is one order for every server.
 *
 * Keys: KEYS[1] the topic's stream (`prefix + 'h:' + topic`), KEYS[2] its meta hash (`prefix + 'hm:' + topic`:
 * `epoch`, `offset` = the latest offset given, `age` = the age bound in ms of the latest append, 0 = none).
 * Stream entries: ID `<offset>-0`, fields `t` (Redis TIME in ms when appended), `b` (1 = binary), `d` (payload).
 */

/** Lua helper: create the meta hash with a new epoch (and drop a stream left from a history that lost its meta). */
const ENSURE_META = `
local function ensure_meta(new_epoch)
  local meta = redis.call('HMGET', KEYS[2], 'epoch', 'offset', 'age')
  if meta[1] then return meta[1], tonumber(meta[2]), tonumber(meta[3] or '0'), false end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', new_epoch, 'offset', 0, 'age', 0)
  return new_epoch, 0, 0, true
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Append. ARGV: [1] a new epoch (used only if the topic has none), [2] maxMessages, [3] maxAgeMs (0: none),
 * [4] 1 binary / 0 text, [5] payload, [6] the topic's channel, [7] the expiry in ms of the idempotency
 * key's record ('' or absent = no key). With a key, KEYS[3] is its record (`<epoch> <offset>` of the first append
 * with it): when it names the current epoch, nothing is appended and that position is returned with a
 * third element 1; else the append goes on and the record is set, in the same script (atomically).
 * Returns { epoch, offset } (+ { 1 } for a key seen before). Work per call is bounded: the count trim is XADD's exact MAXLEN (one entry
 * per append once full), the age trim looks at no more than 2 + 16 + 128 of the oldest entries.
 * Then PUBLISHes the envelope [2][flags: bit 0 binary][epoch length][epoch][offset: 8 bytes big-endian][payload].
 */
export const APPEND_SCRIPT = `${ENSURE_META}
local epoch, _, age = ensure_meta(ARGV[1])
local key_ttl = ARGV[7] or ''
if key_ttl ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local seen_epoch, seen_offset = string.match(seen, '^(%S+) (%d+)$')
    if seen_epoch == epoch then return { epoch, tonumber(seen_offset), 1 } end
  end
end
local offset = redis.call('HINCRBY', KEYS[2], 'offset', 1)
if key_ttl ~= '' then redis.call('SET', KEYS[3], epoch .. ' ' .. offset, 'PX', key_ttl) end
local max_age = tonumber(ARGV[3])
if age ~= max_age then redis.call('HSET', KEYS[2], 'age', ARGV[3]) end
local now = now_ms()
local id = string.format('%d-0', offset)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], id, 't', now, 'b', ARGV[4], 'd', ARGV[5])
if max_age > 0 then
  local cutoff = now - max_age
  local start = '-'
  local minid = nil
  for _, count in ipairs({2, 16, 128}) do
    local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', count)
    if #batch == 0 then break end
    local young = nil
    for i = 1, #batch do
      if tonumber(batch[i][2][2]) >= cutoff then young = batch[i][1] break end
    end
    if young then
      if young ~= batch[1][1] or start ~= '-' then minid = young end
      break
    end
    local last = batch[#batch][1]
    minid = string.format('%d-0', tonumber(string.match(last, '^(%d+)')) + 1)
    start = '(' .. last
  end
  if minid then redis.call('XTRIM', KEYS[1], 'MINID', minid) end
end
local bytes = {}
local n = offset
for i = 8, 1, -1 do
  bytes[i] = n % 256
  n = math.floor(n / 256)
end
redis.call('PUBLISH', ARGV[6], string.char(2, tonumber(ARGV[4]), #epoch) .. epoch .. string.char(unpack(bytes)) .. ARGV[5])
return { epoch, offset }
`;

/**
 * Read. ARGV: [1] a new epoch (used only if the topic has none), [2] the epoch asked for ('' = any),
 * [3] after, [4] limit (0: the position only).
 * Returns { epoch, top, first, offset1, binary1, payload1, offset2, ... }: the kept entries after `after`
 * (at most limit, those older than the age bound left out), and `first` = where the kept history after
 * `after` goes on: the first returned offset, else the offset after the last one looked at (all too old),
 * else top + 1. Nothing is read when the epoch differs or `after` ≥ top.
 */
export const READ_SCRIPT = `${ENSURE_META}
local epoch, top, age = ensure_meta(ARGV[1])
local after = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local out = { epoch, top, top + 1 }
if limit == 0 or (ARGV[2] ~= '' and ARGV[2] ~= epoch) or after >= top then return out end
local entries = redis.call('XRANGE', KEYS[1], string.format('(%d-0', after), '+', 'COUNT', limit)
local cutoff = nil
if age > 0 then cutoff = now_ms() - age end
for i = 1, #entries do
  local entry = entries[i]
  local fields = entry[2]
  local offset = tonumber(string.match(entry[1], '^(%d+)'))
  if cutoff == nil or tonumber(fields[2]) >= cutoff then
    if #out == 3 then out[3] = offset end
    out[#out + 1] = offset
    out[#out + 1] = tonumber(fields[4])
    out[#out + 1] = fields[6]
  elseif i == #entries and #entries == limit then
    out[3] = offset + 1
  end
end
return out
`;

/**
 * Claim a client send before applying it (idempotency, claim-after-apply: src/node/send-dedupe.ts).
 * KEYS[1] the session's hash (`prefix + 'ds:' + session`: `a` the highest seq committed, `l` the highest
 * seq leased, `o` the lease's owner, `u` its expiry, Redis TIME in ms). ARGV: [1] seq, [2] owner,
 * [3] lease in ms, [4] the record's expiry in ms.
 * Returns 'applied' (seq ≤ a), 'running' (seq ≤ l, leased by another owner until after now), else 'new'
 * (the lease is now the owner's up to max(l, seq)); either way the key lives ARGV[4] ms more.
 */
export const CLAIM_SEND_SCRIPT = `
local seq = tonumber(ARGV[1])
local record = redis.call('HMGET', KEYS[1], 'a', 'l', 'o', 'u')
local result = 'new'
if seq <= tonumber(record[1] or '0') then
  result = 'applied'
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local leased = tonumber(record[2] or '0')
  if seq <= leased and record[3] ~= ARGV[2] and tonumber(record[4] or '0') > now then
    result = 'running'
  else
    if seq > leased then leased = seq end
    redis.call('HSET', KEYS[1], 'l', leased, 'o', ARGV[2], 'u', now + tonumber(ARGV[3]))
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return result
`;

/**
 * Commit client sends once their handlers settled: KEYS[1] as for CLAIM_SEND_SCRIPT; ARGV: [1] seq (every
 * send up to it is applied), [2] the record's expiry in ms. Returns 1.
 */
export const COMMIT_SEND_SCRIPT = `
if tonumber(ARGV[1]) > tonumber(redis.call('HGET', KEYS[1], 'a') or '0') then redis.call('HSET', KEYS[1], 'a', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;
