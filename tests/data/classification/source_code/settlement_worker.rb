# frozen_string_literal: true

require "sidekiq"
require "faraday"

module Payments
  class SettlementWorker
    include Sidekiq::Job
    sidekiq_options queue: :settlements, retry: 5

    sidekiq_retry_in do |count, exception|
      case exception
      when Faraday::TimeoutError then 10 * (count + 1)
      else :kill
      end
    end

    def perform(settlement_id)
      settlement = Settlement.find(settlement_id)
      return if settlement.settled?

      response = client.post("/v2/settlements", settlement.to_psp_payload)
      if response.success?
        settlement.update!(status: :settled, psp_reference: response.body["reference"])
      else
        logger.warn("settlement #{settlement_id} rejected: #{response.status}")
        raise SettlementRejected, response.body["error"]
      end
    end

    private

    def client
      @client ||= Faraday.new(url: ENV.fetch("PSP_BASE_URL")) do |f|
        f.request :json
        f.response :json
        f.options.timeout = 30
      end
    end
  end
end
