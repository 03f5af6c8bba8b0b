-- Flyway migration, released with shop-api 7.3.0 at 12:11 UTC
-- Prepare order_items for partitioning: drop indexes that will be rebuilt per partition.
BEGIN;
ALTER TABLE order_items SET (autovacuum_vacuum_scale_factor = 0.02);
DROP INDEX IF EXISTS idx_order_items_customer_id;
DROP INDEX IF EXISTS idx_order_items_created_at;
-- TODO(partitioning): recreate idx_order_items_customer_id on each partition (PLAT-930)
COMMIT;
