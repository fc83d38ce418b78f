# Sidekiq peer for hookd's benchmark, run as: sidekiq -r ./worker.rb -c 20
#
# CallWebhookJob does what a webhook job does in GitLab or Twenty: sign
# "<ts>:<body>" with the webhook's secret (hex HMAC-SHA256), POST the payload
# with the X-Twenty-Webhook-* headers over a kept-alive connection (one
# Net::HTTP per thread and receiver), and raise on any non-2xx so that
# Sidekiq retries it with its backoff.
#
# Tuned: job logging off (WARN level), connections kept alive per thread,
# parsed URIs cached. When BENCH_READY_FILE is set, it is written once the
# server has booted.
require 'sidekiq'
require 'net/http'
require 'openssl'
require 'securerandom'
require_relative 'common'

Sidekiq.configure_server do |config|
  config.redis = { url: Bench.redis_url }
  config.logger.level = Logger::WARN
  config.on(:startup) do
    File.write(ENV['BENCH_READY_FILE'], "ready\n") if ENV['BENCH_READY_FILE']
  end
end

Sidekiq.configure_client do |config|
  config.redis = { url: Bench.redis_url }
end

class CallWebhookJob
  include Sidekiq::Worker
  sidekiq_options retry: 10

  def perform(url, secret, payload)
    uri = uri_of(url)
    body = JSON.generate(payload)
    ts = (Time.now.to_f * 1000).to_i.to_s
    req = Net::HTTP::Post.new(uri.request_uri)
    req['Content-Type'] = 'application/json'
    req['X-Twenty-Webhook-Timestamp'] = ts
    req['X-Twenty-Webhook-Signature'] = OpenSSL::HMAC.hexdigest('SHA256', secret, "#{ts}:#{body}")
    req['X-Twenty-Webhook-Nonce'] = SecureRandom.hex(16)
    req['webhook-id'] = jid
    req.body = body
    res = begin
      connection(uri).request(req)
    rescue IOError, SystemCallError, Timeout::Error, Net::HTTPBadResponse
      drop_connection(uri)
      raise
    end
    raise "receiver answered #{res.code}" unless res.is_a?(Net::HTTPSuccess)
  end

  private

  def uri_of(url)
    (Thread.current[:bench_uris] ||= {})[url] ||= URI(url)
  end

  def connections
    Thread.current[:bench_http] ||= {}
  end

  def connection(uri)
    key = "#{uri.host}:#{uri.port}"
    http = connections[key]
    return http if http&.started?
    http = Net::HTTP.new(uri.host, uri.port)
    http.open_timeout = 5
    http.read_timeout = 10
    http.keep_alive_timeout = 30
    http.start
    connections[key] = http
  end

  def drop_connection(uri)
    http = connections.delete("#{uri.host}:#{uri.port}")
    http&.finish if http&.started?
  rescue IOError
    nil
  end
end
