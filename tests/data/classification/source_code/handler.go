package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.uber.org/zap"
)

type AuthorizeRequest struct {
	OrderID  string `json:"order_id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type Server struct {
	psp     PSPClient
	log     *zap.Logger
	timeout time.Duration
}

var tracer = otel.Tracer("payments/api")

func (s *Server) Authorize(w http.ResponseWriter, r *http.Request) {
	ctx, span := tracer.Start(r.Context(), "Authorize")
	defer span.End()

	var req AuthorizeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "invalid body", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	res, err := s.psp.Authorize(ctx, req.OrderID, req.Amount, req.Currency)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("psp timeout", zap.String("order", req.OrderID))
		http.Error(w, "upstream timeout", http.StatusGatewayTimeout)
		return
	case err != nil:
		s.log.Error("psp error", zap.Error(err))
		http.Error(w, "upstream error", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}
