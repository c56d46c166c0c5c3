import Redis

/// The Lua scripts of the Redis store, one per ``LimitBackend`` method, each doing in one atomic step what
/// ``LimitLedger`` does (docs/limitd.md, "Redis backend"). Every script of a key touches only that key's
/// five names (``RedisLimitKeys``), all with the key's hash tag, so a Redis Cluster keeps them in one slot.
///
/// The rate arithmetic (intervals, limits) is computed in Swift by ``RateLimitPolicy``, exactly as the
/// ledger computes it, and passed in; the scripts do the GCRA steps and the bookkeeping. Times are
/// nanoseconds since 1970 given as decimal text, or Redis's own `TIME` when the text is empty (so every
/// host agrees on the clock). Lua's numbers are doubles, exact to 2^53, and such times are about 2^60:
/// a time is held as {seconds, nanoseconds}, and only differences (at most a window, far below 2^53)
/// are plain numbers. Amounts (nano-USD) are exact up to 2^53 (about 9 million USD).
enum LimitScripts {
    /// Shared helpers: split times, GCRA with a cost, the spend period, a reservation's settlement.
    private static let library = #"""
local E9 = 1000000000
local U32 = 4294967295

-- Times: {seconds, nanoseconds}, 0 <= nanoseconds < 1e9.
local function tnorm(s, n)
  local carry = math.floor(n / E9)
  n = n - carry * E9
  if n < 0 then n = n + E9; carry = carry - 1 elseif n >= E9 then n = n - E9; carry = carry + 1 end
  return {s + carry, n}
end
local function tparse(text)
  if not text or text == '' then return {0, 0} end
  local negative = string.sub(text, 1, 1) == '-'
  if negative then text = string.sub(text, 2) end
  local s, n = 0, tonumber(text)
  if #text > 9 then s = tonumber(string.sub(text, 1, -10)); n = tonumber(string.sub(text, -9)) end
  if negative then return tnorm(-s, -n) end
  return {s, n}
end
local function tstr(t)
  local s, n = t[1], t[2]
  if s == 0 then return string.format('%d', n) end
  if s > 0 then return string.format('%d%09d', s, n) end
  if n == 0 then return string.format('-%d000000000', -s) end
  return string.format('-%d%09d', -s - 1, E9 - n)
end
local function tdiff(a, b) return (a[1] - b[1]) * E9 + (a[2] - b[2]) end
local function tadd(t, d) return tnorm(t[1], t[2] + d) end
local function tnow(text)
  if text and text ~= '' then return tparse(text) end
  local t = redis.call('TIME')
  return {tonumber(t[1]), tonumber(t[2]) * 1000}
end
-- Milliseconds of a lease index score (floor).
local function tms(t) return t[1] * 1000 + math.floor(t[2] / 1000000) end
-- RateLimitPolicy's milliseconds: rounded up, 0 for nothing.
local function ms(ns)
  if ns <= 0 then return 0 end
  return math.min(U32, math.floor((ns + 999999) / 1000000))
end
local function num(v) return tonumber(v) or 0 end

-- RateLimitPolicy.check: whether cost units conform at now.
-- Returns allowed, tooLarge, remaining, retryAfter (ns), the TAT to store.
local function gcra(tat, now, cost, limit, interval)
  local span = interval * limit
  local function remaining(arrival)
    local room = span - math.max(0, tdiff(arrival, now))
    if room <= 0 then return 0 end
    local q = math.floor(room / interval)
    if (q + 1) * interval <= room then q = q + 1 elseif q * interval > room then q = q - 1 end
    return math.min(U32, q)
  end
  local ahead, start = tdiff(tat, now), tat
  if ahead < 0 then ahead = 0; start = now end
  if cost > limit then return false, true, remaining(tat), 0, tat end
  local slack = span - cost * interval
  if ahead > slack then return false, false, remaining(tat), ahead - slack, tat end
  local nxt = tadd(start, cost * interval)
  return true, false, remaining(nxt), 0, nxt
end

-- LimitLedger.settleTokens: a token TAT after a reservation's end.
local function settletokens(rate, field, difference, interval, now)
  if interval <= 0 or difference == 0 then return end
  local tat = tparse(redis.call('HGET', rate, field))
  local base = tat
  if difference > 0 and tdiff(tat, now) < 0 then base = now end
  redis.call('HSET', rate, field, tstr(tadd(base, difference * interval)))
end

-- The period of the caller's budget terms at now: ARGV gives (start, end, next end) from the caller's clock;
-- Redis's clock past that end takes the next period.
local function period(start, finish, nextend, now)
  if finish > 0 and now[1] >= finish and nextend > 0 then return finish, nextend, 0 end
  return start, finish, nextend
end

-- A key's spend hash as numbers.
local function readspend(spend)
  local v = redis.call('HMGET', spend, 'ps', 'pe', 'pn', 'spent', 'held', 'total')
  return {ps = num(v[1]), pe = num(v[2]), pn = num(v[3]), spent = num(v[4]), held = num(v[5]), total = num(v[6])}
end
local function writespend(spend, s)
  redis.call('HSET', spend, 'ps', string.format('%d', s.ps), 'pe', string.format('%d', s.pe), 'pn', string.format('%d', s.pn),
    'spent', string.format('%d', s.spent), 'held', string.format('%d', s.held), 'total', string.format('%d', s.total))
end
-- LimitLedger.currentSpend: a new period (or terms that start another) begins at zero.
local function currentspend(spend, start, finish, nextend)
  local s = readspend(spend)
  if start ~= s.ps or finish ~= s.pe then
    if start ~= s.ps then s.spent = 0 end
    s.ps = start; s.pe = finish
  end
  s.pn = nextend
  return s
end

-- A reservation: "tokens cost keyInterval modelInterval expires usedTokens usedCost modelPrefix".
local function readres(text)
  local t, c, ki, mi, e, ut, uc, mp = string.match(text, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) ?(.*)$')
  return {tokens = tonumber(t), cost = tonumber(c), ki = tonumber(ki), mi = tonumber(mi), expires = e,
          ut = tonumber(ut), uc = tonumber(uc), mp = mp}
end
local function writeres(r)
  return string.format('%d %d %d %d %s %d %d %s', r.tokens, r.cost, r.ki, r.mi, r.expires, r.ut, r.uc, r.mp)
end

-- LimitLedger.commit on KEYS (rate, spend, inflight, leases, res). rollstart/rollend/rollnext: the period
-- a settlement after its period's end is charged to (0: the one after the stored period, when known).
local function settle(id, r, prompt, completion, cost, final, givingback, keepsspend, now, rollstart, rollend, rollnext)
  local rate, spendkey, inflight, leases, res = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
  local heldbefore = math.max(0, r.cost - r.uc)
  r.ut = r.ut + prompt + completion
  r.uc = r.uc + cost
  for _, prefix in ipairs(r.mp == '' and {''} or {'', r.mp}) do
    if prompt > 0 then redis.call('HINCRBY', rate, prefix .. 'pt', prompt) end
    if completion > 0 then redis.call('HINCRBY', rate, prefix .. 'ct', completion) end
  end
  if final and givingback then
    local difference = r.ut - r.tokens
    settletokens(rate, 'tpm', difference, r.ki, now)
    if r.mp ~= '' then settletokens(rate, r.mp .. 'tpm', difference, r.mi, now) end
  end
  if keepsspend then
    local s = readspend(spendkey)
    if s.pe > 0 and now[1] >= s.pe then
      -- Settled in a later period than it was admitted in: charged to the current one.
      if rollend > 0 then
        s.ps, s.pe, s.pn = period(rollstart, rollend, rollnext, now)
      elseif s.pn > 0 then
        s.ps, s.pe, s.pn = s.pe, s.pn, 0
      end
      s.spent = 0
    end
    s.spent = s.spent + cost
    s.total = s.total + cost
    local freed = heldbefore
    if not final then freed = heldbefore - math.max(0, r.cost - r.uc) end
    s.held = math.max(0, s.held - freed)
    writespend(spendkey, s)
  end
  if final then
    redis.call('HDEL', res, id)
    redis.call('ZREM', leases, id)
    for _, field in ipairs(r.mp == '' and {'k'} or {'k', r.mp}) do
      if redis.call('HINCRBY', inflight, field, -1) <= 0 then redis.call('HDEL', inflight, field) end
    end
  else
    redis.call('HSET', res, id, writeres(r))
  end
end

-- Rules from ARGV[first...]: name, field, kind ('t' tokens, 'r' requests), limit, interval.
local function readrules(first)
  local rules = {}
  local count = tonumber(ARGV[first])
  for i = 0, count - 1 do
    local at = first + 1 + i * 5
    rules[#rules + 1] = {name = ARGV[at], field = ARGV[at + 1], tokens = ARGV[at + 2] == 't',
                         limit = tonumber(ARGV[at + 3]), interval = tonumber(ARGV[at + 4])}
  end
  return rules
end
-- LimitLedger.statuses: the tightest requests and tokens limits (limit, remaining, reset ms).
local function statuses(rules, checks, now)
  local rq, tk = {0, 0, 0}, {0, 0, 0}
  for i, rule in ipairs(rules) do
    local c = checks[i]
    local status = {rule.limit, c.remaining, ms(math.max(0, tdiff(c.arrival, now)))}
    if rule.tokens then
      if tk[1] == 0 or status[2] < tk[2] then tk = status end
    elseif rq[1] == 0 or status[2] < rq[2] then
      rq = status
    end
  end
  return rq, tk
end
"""#

    /// `reserve`: KEYS rate, spend, inflight, leases, res. ARGV: now, id, model prefix, tokens, cost, keeps
    /// spend (0/1), budget max, period start, end, next end, lease ms, max parallel, model max parallel,
    /// TTL ms of the rate hash, then the rules. Reply: outcome (0-3, 5 for "held already"), refused by,
    /// retry ms, requests (limit, remaining, reset ms), tokens (the same), budget max, spent, held, period
    /// end (text), lease end in ms.
    static let reserve = RedisScript(library + "\n" + #"""
local rate, spendkey, inflight, leases, res = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = tnow(ARGV[1])
local id, mp, tokens, cost = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local keepsspend, bmax = ARGV[6] == '1', tonumber(ARGV[7])
local leasems, maxparallel, modelmaxparallel, ratettl = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
if redis.call('HEXISTS', res, id) == 1 then
  -- The same Reserve again (its reply was lost): answered from the reservation, nothing taken twice.
  return {5, '', 0, 0, 0, 0, 0, 0, 0, '0', '0', '0', '0', 0}
end
local rules = readrules(15)
local checks = {}
for i, rule in ipairs(rules) do
  local tat = tparse(redis.call('HGET', rate, rule.field))
  local c = rule.tokens and tokens or 1
  local allowed, toolarge, remaining, wait, arrival = gcra(tat, now, c, rule.limit, rule.interval)
  checks[i] = {allowed = allowed, toolarge = toolarge, remaining = remaining, wait = wait, arrival = arrival}
end
local s = nil
if keepsspend then
  local start, finish, nextend = period(tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), now)
  s = currentspend(spendkey, start, finish, nextend)
end
local function reply(outcome, refusedby, waitms, expiresms)
  local rq, tk = statuses(rules, checks, now)
  local spent, held, pe = 0, 0, 0
  if s then spent, held, pe = s.spent, s.held, s.pe end
  return {outcome, refusedby, waitms, rq[1], rq[2], rq[3], tk[1], tk[2], tk[3],
          string.format('%d', bmax), string.format('%d', spent), string.format('%d', held), string.format('%d', pe), expiresms}
end
for i, rule in ipairs(rules) do
  if checks[i].toolarge then return reply(3, rule.name, 0, 0) end
end
if s and bmax > 0 and s.spent + s.held + cost > bmax then
  local wait = 0
  if s.pe > 0 then wait = math.max(1, tdiff({s.pe, 0}, now)) end
  return reply(2, 'budget', ms(wait), 0)
end
local refusedby, wait = '', 0
for i, rule in ipairs(rules) do
  if not checks[i].allowed and checks[i].wait > wait then refusedby = rule.name; wait = checks[i].wait end
end
local concurrency = 1000000000
if maxparallel > 0 and num(redis.call('HGET', inflight, 'k')) >= maxparallel and wait < concurrency then
  refusedby = 'max_parallel'; wait = concurrency
end
if mp ~= '' and modelmaxparallel > 0 and num(redis.call('HGET', inflight, mp)) >= modelmaxparallel and wait < concurrency then
  refusedby = 'model_max_parallel'; wait = concurrency
end
if wait > 0 then return reply(1, refusedby, ms(wait), 0) end

-- Admitted: take everything at once.
local ki, mi = 0, 0
for i, rule in ipairs(rules) do
  redis.call('HSET', rate, rule.field, tstr(checks[i].arrival))
  if rule.tokens then
    if rule.field == 'tpm' then ki = rule.interval else mi = rule.interval end
  end
end
redis.call('PEXPIRE', rate, ratettl)
if s then
  s.held = s.held + cost
  writespend(spendkey, s)
end
local expires = tadd(now, leasems * 1000000)
redis.call('HSET', res, id, writeres({tokens = tokens, cost = cost, ki = ki, mi = mi, expires = tstr(expires), ut = 0, uc = 0, mp = mp}))
redis.call('HINCRBY', inflight, 'k', 1)
if mp ~= '' then redis.call('HINCRBY', inflight, mp, 1) end
redis.call('ZADD', leases, tms(expires), id)
-- What outlives the longest lease by a day is the leftover of a reservation nobody ended.
local keep = leasems + 86400000
for _, name in ipairs({res, inflight, leases}) do
  if redis.call('PTTL', name) < keep then redis.call('PEXPIRE', name, keep) end
end
return reply(0, '', 0, tms(expires))
"""#)

    /// `commit`: KEYS rate, spend, inflight, leases, res. ARGV: now, id, prompt tokens, completion tokens,
    /// cost, final (0/1), keeps spend (0/1), the period of the reservation's budget terms now (start, end,
    /// next end; 0s when unknown). Reply: 1 settled, 0 unknown.
    static let commit = RedisScript(library + "\n" + #"""
local now = tnow(ARGV[1])
local id = ARGV[2]
local text = redis.call('HGET', KEYS[5], id)
if not text then return 0 end
settle(id, readres(text), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1', true, ARGV[7] == '1', now,
       tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]))
return 1
"""#)

    /// `expire`: KEYS rate, spend, inflight, leases, res. ARGV: now, keeps spend (0/1), most to end.
    /// Ends every reservation whose lease ran out as if settled at its worst case (tokens stay taken, the
    /// held cost is charged). Reply: how many ended, and the next lease end in ms (0: none left).
    static let expire = RedisScript(library + "\n" + #"""
local now = tnow(ARGV[1])
local keepsspend, most = ARGV[2] == '1', tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', tms(now), 'LIMIT', 0, most)
local ended = 0
for _, id in ipairs(due) do
  local text = redis.call('HGET', KEYS[5], id)
  if not text then
    redis.call('ZREM', KEYS[4], id)
  else
    local r = readres(text)
    if tdiff(tparse(r.expires), now) <= 0 then
      settle(id, r, 0, 0, math.max(0, r.cost - r.uc), true, false, keepsspend, now, 0, 0, 0)
      ended = ended + 1
    end
  end
end
local nxt = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
if #nxt == 0 then return {ended, 0} end
return {ended, tonumber(nxt[2])}
"""#)

    /// `usage`: KEYS rate, spend, inflight. ARGV: now, keeps spend (0/1), budget max, period start, end,
    /// next end, then the rules of the key's own scope. Reply: requests, tokens (3 each), budget max,
    /// spent, held, period end, in flight, prompt and completion tokens, total spend (text).
    static let usage = RedisScript(library + "\n" + #"""
local now = tnow(ARGV[1])
local rules = readrules(7)
local checks = {}
for i, rule in ipairs(rules) do
  local allowed, toolarge, remaining, wait, arrival = gcra(tparse(redis.call('HGET', KEYS[1], rule.field)), now, 0, rule.limit, rule.interval)
  checks[i] = {remaining = remaining, arrival = arrival}
end
local rq, tk = statuses(rules, checks, now)
local s = {spent = 0, held = 0, pe = 0, total = 0}
if ARGV[2] == '1' then
  local start, finish, nextend = period(tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), now)
  s = currentspend(KEYS[2], start, finish, nextend)
end
local totals = redis.call('HMGET', KEYS[1], 'pt', 'ct')
return {rq[1], rq[2], rq[3], tk[1], tk[2], tk[3], ARGV[3], string.format('%d', s.spent), string.format('%d', s.held),
        string.format('%d', s.pe), num(redis.call('HGET', KEYS[3], 'k')), totals[1] or '0', totals[2] or '0', string.format('%d', s.total)}
"""#)

    /// Version 1's `admit`: KEYS rate. ARGV: now, limit, interval, TTL ms. Reply: allowed (0/1), limit,
    /// remaining, retry after (ns).
    static let admit = RedisScript(library + "\n" + #"""
local now = tnow(ARGV[1])
local allowed, toolarge, remaining, wait, arrival = gcra(tparse(redis.call('HGET', KEYS[1], 'rpm')), now, 1, tonumber(ARGV[2]), tonumber(ARGV[3]))
if allowed then
  redis.call('HSET', KEYS[1], 'rpm', tstr(arrival))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
end
return {allowed and 1 or 0, tonumber(ARGV[2]), remaining, wait}
"""#)

    /// Version 1's `settle`: KEYS rate. ARGV: now, prompt, completion, token interval (0: no default token
    /// limit).
    static let settleVersionOne = RedisScript(library + "\n" + #"""
local now = tnow(ARGV[1])
local prompt, completion = tonumber(ARGV[2]), tonumber(ARGV[3])
if prompt > 0 then redis.call('HINCRBY', KEYS[1], 'pt', prompt) end
if completion > 0 then redis.call('HINCRBY', KEYS[1], 'ct', completion) end
settletokens(KEYS[1], 'tpm', prompt + completion, tonumber(ARGV[4]), now)
return 1
"""#)

    /// Replays spend one host charged locally while Redis was away: KEYS spend. ARGV: host id, the host's
    /// local total for the key, now. Adds what the host charged beyond what it replayed before (the
    /// `replayed:<host>` field), so a replay sent twice adds once. Reply: nano-USD added.
    static let replaySpend = RedisScript(library + "\n" + #"""
local now = tnow(ARGV[3])
local field = 'replayed:' .. ARGV[1]
local localtotal = tonumber(ARGV[2])
local delta = localtotal - num(redis.call('HGET', KEYS[1], field))
if delta <= 0 then return 0 end
local s = readspend(KEYS[1])
if s.pe > 0 and now[1] >= s.pe and s.pn > 0 then s.ps, s.pe, s.pn = s.pe, s.pn, 0; s.spent = 0 end
s.spent = s.spent + delta
s.total = s.total + delta
writespend(KEYS[1], s)
redis.call('HSET', KEYS[1], field, ARGV[2])
return delta
"""#)

    /// Marks a key as holding leases in the index: KEYS index, generations. ARGV: key, lease end (ms).
    /// The index keeps the earliest end; the generation tells a sweep that ran meanwhile to keep it.
    static let noteLease = RedisScript(#"""
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(ARGV[2]) < tonumber(score) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1
"""#)

    /// Keys with a lease due: KEYS index, generations. ARGV: most, now in ms (empty: Redis's `TIME`).
    /// Reply: key, generation, key, ...
    static let dueLeases = RedisScript(#"""
local nowms = tonumber(ARGV[2])
if not nowms then
  local t = redis.call('TIME')
  nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowms, 'LIMIT', 0, tonumber(ARGV[1]))
local reply = {}
for _, key in ipairs(keys) do
  reply[#reply + 1] = key
  reply[#reply + 1] = redis.call('HGET', KEYS[2], key) or '0'
end
return reply
"""#)

    /// After a key's `expire`: KEYS index, generations. ARGV: key, the generation seen before, the key's
    /// next lease end (0: none). Unchanged generation: the next end is the truth (none: the key leaves the
    /// index); changed (a reservation came meanwhile): the earlier of the two is kept.
    static let sweptLeases = RedisScript(#"""
local generation = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
local nextms = tonumber(ARGV[3])
if generation == ARGV[2] then
  if nextms == 0 then
    redis.call('ZREM', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], nextms, ARGV[1])
  end
elseif nextms > 0 then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not score or nextms < tonumber(score) then redis.call('ZADD', KEYS[1], nextms, ARGV[1]) end
end
return 1
"""#)
}
