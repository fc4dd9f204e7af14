// How a setting's text becomes a value: each parser names what it expects, so a bad value stops start-up with a
// message naming the variable, the expected form and what was given. Unset and empty both mean the default.
import { z } from 'zod';

/** A variable parsed by `parse` (undefined = invalid, explained by `expected`), or `def` when unset or empty. */
export function setting<T>(def: T, parse: (raw: string) => T | undefined, expected: string) {
  return z
    .string()
    .trim()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === '') return def;
      const value = parse(raw);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be ${expected}, got "${raw}"` });
        return z.NEVER;
      }
      return value;
    });
}

export function wholeNumber(def: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  const parse = (raw: string) => {
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
  };
  return setting(def, parse, `a whole number from ${min} to ${max}`);
}

/** A number in [min, max]. */
export function decimal(def: number, min: number, max: number, expected: string) {
  const parse = (raw: string) => {
    const value = Number(raw);
    return Number.isFinite(value) && value >= min && value <= max ? value : undefined;
  };
  return setting(def, parse, expected);
}

/** A share above 0 and at most 1. */
export function share(def: number) {
  const parse = (raw: string) => {
    const value = Number(raw);
    return Number.isFinite(value) && value > 0 && value <= 1 ? value : undefined;
  };
  return setting(def, parse, 'a share above 0 and at most 1 (1 = never)');
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, def: T[number]) {
  const parse = (raw: string) => ((values as readonly string[]).includes(raw) ? (raw as T[number]) : undefined);
  return setting<T[number]>(def, parse, `one of ${values.join(', ')}`);
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/** The one way every boolean setting is read. */
export function parseFlag(raw: string): boolean | undefined {
  const word = raw.trim().toLowerCase();
  return TRUE_WORDS.includes(word) ? true : FALSE_WORDS.includes(word) ? false : undefined;
}

export function flag(def: boolean) {
  return setting(def, parseFlag, 'true or false');
}

/** Free text; unset or empty = undefined. */
export function text() {
  return z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined));
}

/** Free text; unset or empty = `def`. */
export function textOr(def: string) {
  return z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : def));
}

/** A comma-separated list; empty entries dropped. */
export function textList() {
  return z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((item) => item.trim()).filter((item) => item !== ''));
}

/** "host:port,host:port" (REDIS_SENTINELS, REDIS_CLUSTER_NODES); unset or empty = undefined. */
export function hostList() {
  const parse = (raw: string) => {
    const entries = raw.split(',').map((entry) => entry.trim()).filter(Boolean);
    const out: { host: string; port: number }[] = [];
    for (const entry of entries) {
      const match = /^(\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) return undefined;
      out.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
    }
    return out.length > 0 ? out : undefined;
  };
  return setting<{ host: string; port: number }[] | undefined>(undefined, parse, 'a comma-separated list of host:port');
}

/** A whole number, or undefined when unset (the default then depends on other settings). */
export function optionalWholeNumber(min: number, max: number) {
  const parse = (raw: string) => {
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
  };
  return setting<number | undefined>(undefined, parse, `a whole number from ${min} to ${max}`);
}
