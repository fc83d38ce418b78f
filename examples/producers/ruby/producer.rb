#!/usr/bin/env ruby
# frozen_string_literal: true

# Pushes one event onto hookd's queue with redis-rb (gem redis; Debian: ruby-redis).
#
#   ruby producer.rb [EVENT [DATA_JSON [ID]]]
#   ruby producer.rb person.created '{"id":"1","firstName":"Alice"}'
#
# HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX (default
# hookd) name the Redis and the namespace, as for hookd itself. HOOKD_PREFIX may
# be a list (a,b,c), or one BASE with HOOKD_SHARDS=N (BASE:0 ... BASE:N-1);
# HOOKD_WORKSPACE sets the envelope's workspace, which picks the namespace
# (docs/producers.md, "Several namespaces"). Prints
# {"pushed":1,"id":"evt_...","namespace":"..."} like `hookd enqueue`, plus the
# namespace it chose.

require 'digest'
require 'json'
require 'redis'
require 'securerandom'
require 'time'

EVENT_RE = /\A[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}\z/
ID_RE = /\A[A-Za-z0-9_.:-]{1,128}\z/
PREFIX_RE = /\A[A-Za-z0-9_.:-]{1,64}\z/
SAMPLE = { 'id' => 'abc12345', 'firstName' => 'Alice', 'lastName' => 'Doe',
           'email' => 'alice@example.com' }.freeze

def usage(why)
  warn "producer.rb: #{why}\nusage: producer.rb [EVENT [DATA_JSON [ID]]]"
  exit 2
end

def env(name, default)
  value = ENV.fetch(name, '')
  value.empty? ? default : value
end

# hookd's namespaces: the HOOKD_PREFIX list in its order, or BASE:0 ..
# BASE:N-1 with HOOKD_SHARDS=N.
def namespaces(prefix, shards)
  names = prefix.split(',', -1)
  names.each do |name|
    next if PREFIX_RE.match?(name)

    usage("HOOKD_PREFIX: #{name.inspect} is not 1..64 bytes of [A-Za-z0-9_.:-]")
  end
  usage('HOOKD_PREFIX names a namespace twice') if names.uniq.length != names.length
  return names if shards.empty?

  n = /\A[0-9]+\z/.match?(shards) ? shards.to_i : -1
  usage('HOOKD_SHARDS must be a number from 0 (off) to 256') unless n.between?(0, 256)
  return names if n.zero?
  usage('HOOKD_SHARDS takes a single HOOKD_PREFIX') if names.length != 1
  Array.new(n) { |i| "#{names[0]}:#{i}" }
end

# The namespace of a workspace: ns[h(W) mod n], h(W) the first 4 bytes of
# SHA-256(W) as a big-endian unsigned integer; no workspace: ns[0].
def pick(ns, workspace)
  return ns[0] if workspace.empty?

  ns[Digest::SHA256.digest(workspace).unpack1('N') % ns.length]
end

usage('too many arguments') if ARGV.length > 3
event = ARGV[0] || 'person.created'
usage("event #{event.inspect} is not <object>.<action>") unless EVENT_RE.match?(event)
data = SAMPLE
if ARGV.length > 1
  begin
    data = JSON.parse(ARGV[1])
  rescue JSON::ParserError => e
    usage("DATA_JSON is not JSON: #{e.message}")
  end
  usage('DATA_JSON must be a JSON object') unless data.is_a?(Hash)
end
id = ARGV[2] || "evt_#{SecureRandom.hex(16)}"
usage("id #{id.inspect} is not 1..128 bytes of [A-Za-z0-9_.:-]") unless ID_RE.match?(id)
workspace = env('HOOKD_WORKSPACE', '')
unless workspace.empty? || ID_RE.match?(workspace)
  usage("HOOKD_WORKSPACE #{workspace.inspect} is not 1..128 bytes of [A-Za-z0-9_.:-]")
end
ns = pick(namespaces(env('HOOKD_PREFIX', 'hookd'), env('HOOKD_SHARDS', '')), workspace)

fields = {
  'event' => event,
  'data' => data,
  'timestamp' => Time.now.utc.iso8601(3), # when the change happened; sent as is
  'id' => id # the same id on a re-push gives receivers the same webhook-id
}
fields['workspace'] = workspace unless workspace.empty? # who sees it, and its namespace
envelope = JSON.generate(fields)

url = env('HOOKD_REDIS_URL', 'redis://127.0.0.1:6379/0')
begin
  redis = Redis.new(url: url, connect_timeout: 5, timeout: 10, reconnect_attempts: 0)
  redis.lpush("{#{ns}}:events", envelope)
rescue Redis::BaseError => e
  warn "producer.rb: redis: #{e.message}"
  exit 1
ensure
  redis&.close
end
puts JSON.generate('pushed' => 1, 'id' => id, 'namespace' => ns)
