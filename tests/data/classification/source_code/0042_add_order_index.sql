-- Speeds up OrderRepository.findOpenOrders (incident INC-4821).
-- CONCURRENTLY: must not run inside a transaction block.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_open_idx
    ON orders (customer_id, created_at DESC)
    WHERE status = 'OPEN';

ALTER TABLE orders
    ADD COLUMN IF NOT EXISTS reserved_at timestamptz;

CREATE OR REPLACE FUNCTION orders_set_reserved_at() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'RESERVED' AND OLD.status <> 'RESERVED' THEN
        NEW.reserved_at := now();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS orders_reserved_at ON orders;
CREATE TRIGGER orders_reserved_at
    BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_set_reserved_at();

SELECT count(*) AS open_orders
FROM orders
WHERE status = 'OPEN'
  AND created_at > now() - interval '1 day';
