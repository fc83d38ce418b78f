# Pre-fills Sidekiq's queue with N webhook jobs (Sidekiq::Client.push_bulk,
# 1000 a call): each job carries the target URL, the secret and the payload.
# Usage: ruby producer.rb N SIZE URL SECRET   (BENCH_REDIS_URL names Redis)
require 'sidekiq'
require_relative 'common'

Sidekiq.configure_client do |config|
  config.redis = { url: Bench.redis_url }
end

n, size, url, secret = Integer(ARGV[0]), Integer(ARGV[1]), ARGV[2], ARGV[3]
t = (Time.now.to_f * 1_000_000).to_i
(0...n).each_slice(1000) do |slice|
  Sidekiq::Client.push_bulk('class' => 'CallWebhookJob', 'queue' => 'default',
                            'args' => slice.map { |i| [url, secret, Bench.payload(i, t, size)] })
end
puts n
