// Starts a real, throw-away redis-server on a free port for the whole test run (or uses TEST_REDIS_URL).
import type { TestProject } from 'vitest/node';
import { startRedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_REDIS_URL) {
    project.provide('redisUrl', process.env.TEST_REDIS_URL);
    return async () => {};
  }
  const redis = await startRedisServer();
  project.provide('redisUrl', redis.url);
  return () => redis.kill();
}
