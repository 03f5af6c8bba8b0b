import { Redis } from "ioredis";
import type { Request, Response, NextFunction } from "express";

export interface RateLimitOptions {
  windowMs: number;
  max: number;
  keyPrefix?: string;
}

const SCRIPT = `
local current = redis.call("INCR", KEYS[1])
if current == 1 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
return current
`;

export function rateLimiter(redis: Redis, opts: RateLimitOptions) {
  const prefix = opts.keyPrefix ?? "rl:";
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const key = `${prefix}${req.ip}:${Math.floor(Date.now() / opts.windowMs)}`;
    try {
      const count = (await redis.eval(SCRIPT, 1, key, opts.windowMs)) as number;
      res.setHeader("X-RateLimit-Limit", opts.max);
      res.setHeader("X-RateLimit-Remaining", Math.max(0, opts.max - count));
      if (count > opts.max) {
        res.status(429).json({ error: "rate_limited" });
        return;
      }
    } catch (err) {
      // Fail open: a Redis outage must not take the API down with it.
      req.log?.warn({ err }, "rate limiter unavailable");
    }
    next();
  };
}
