#!/usr/bin/env ruby
# frozen_string_literal: true

# Pushes one event onto hookd's queue with redis-rb (gem redis; Debian: ruby-redis).
#
#   ruby producer.rb [EVENT [DATA_JSON [ID]]]
#   ruby producer.rb person.created '{"id":"1","firstName":"Alice"}'
#
# HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX (default
# hookd) name the Redis and the namespace, as for hookd itself. Prints
# {"pushed":1,"id":"evt_..."} like `hookd enqueue`.

require 'json'
require 'redis'
require 'securerandom'
require 'time'

EVENT_RE = /\A[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}\z/
ID_RE = /\A[A-Za-z0-9_.:-]{1,128}\z/
SAMPLE = { 'id' => 'abc12345', 'firstName' => 'Alice', 'lastName' => 'Doe',
           'email' => 'alice@example.com' }.freeze

def usage(why)
  warn "producer.rb: #{why}\nusage: producer.rb [EVENT [DATA_JSON [ID]]]"
  exit 2
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

envelope = JSON.generate(
  'event' => event,
  'data' => data,
  'timestamp' => Time.now.utc.iso8601(3), # when the change happened; sent as is
  'id' => id # the same id on a re-push gives receivers the same webhook-id
)

def env(name, default)
  value = ENV.fetch(name, '')
  value.empty? ? default : value
end

url = env('HOOKD_REDIS_URL', 'redis://127.0.0.1:6379/0')
prefix = env('HOOKD_PREFIX', 'hookd')
begin
  redis = Redis.new(url: url, connect_timeout: 5, timeout: 10, reconnect_attempts: 0)
  redis.lpush("{#{prefix}}:events", envelope)
rescue Redis::BaseError => e
  warn "producer.rb: redis: #{e.message}"
  exit 1
ensure
  redis&.close
end
puts JSON.generate('pushed' => 1, 'id' => id)
