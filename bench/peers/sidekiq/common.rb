# Shared by the Sidekiq producer and worker: Redis address and the bench event.
require 'json'
require 'redis'

# Debian pairs sidekiq 6.4 with redis-rb 4.8, which prints a deprecation
# warning on every BRPOP (one per job fetched): silenced, as a tuned
# deployment would.
Redis.silence_deprecations = true

module Bench
  TIMESTAMP = '2025-02-10T15:30:50.000Z'.freeze

  def self.redis_url
    ENV.fetch('BENCH_REDIS_URL', 'redis://127.0.0.1:6379/0')
  end

  # The Twenty payload for event n, padded so that its JSON is `size` bytes.
  def self.payload(n, t, size)
    p = { 'event' => 'person.created', 'data' => { 'n' => n, 't' => t, 'pad' => '' },
          'timestamp' => TIMESTAMP }
    len = JSON.generate(p).bytesize
    raise "size #{size} is below the event's #{len} bytes" if len > size
    p['data']['pad'] = 'x' * (size - len)
    p
  end
end
