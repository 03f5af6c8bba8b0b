'use strict';

const express = require('express');
const pino = require('pino-http');
const { Pool } = require('pg');

const app = express();
const pool = new Pool({ max: Number(process.env.DATABASE_POOL_MAX || 20), idleTimeoutMillis: 30000 });

app.use(express.json({ limit: '1mb' }));
app.use(pino());

app.get('/healthz/ready', async (req, res) => {
  try {
    await pool.query('SELECT 1');
    res.send('ok');
  } catch (err) {
    req.log.error({ err }, 'database not ready');
    res.status(503).send('db down');
  }
});

app.post('/api/v1/cart/items', async (req, res, next) => {
  const { cartId, sku, qty } = req.body;
  if (!cartId || !sku || !(qty > 0)) {
    return res.status(400).json({ error: 'cartId, sku and qty are required' });
  }
  try {
    const { rows } = await pool.query(
      'INSERT INTO cart_items (cart_id, sku, qty) VALUES ($1, $2, $3) RETURNING id',
      [cartId, sku, qty],
    );
    res.status(201).json({ id: rows[0].id });
  } catch (err) {
    next(err);
  }
});

process.on('SIGTERM', () => {
  server.close(() => pool.end().then(() => process.exit(0)));
});

const server = app.listen(process.env.PORT || 8080, () => {
  console.log(`checkout listening on ${server.address().port}`);
});
