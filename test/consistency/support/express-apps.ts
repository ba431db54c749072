import type { RouterConfig } from '@rwsplit/router';
import { JsonLinesChild } from './json-lines-child.js';

export const APP_CONFIG_ENV = 'RWSPLIT_APP_CONFIG';

/** What `pairs-app.ts` gets, as JSON in RWSPLIT_APP_CONFIG. */
export interface PairsAppConfig {
  readonly name: string;
  readonly router: RouterConfig;
}

/** A running `pairs-app.ts` process. */
export interface PairsApp {
  readonly url: string;
  readonly pid: number | undefined;
  close(): Promise<void>;
}

export async function startPairsApp(router: RouterConfig, name: string): Promise<PairsApp> {
  const config: PairsAppConfig = { name, router };
  const child = new JsonLinesChild<{ url: string }>('./pairs-app.ts', {
    [APP_CONFIG_ENV]: JSON.stringify(config),
  });
  try {
    const { url } = await child.ready;
    return { url, pid: child.pid, close: () => child.stop() };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** What a browser keeps: cookies by name, replaced by each Set-Cookie. Attributes are ignored (one host). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';', 1)[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  header(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }
}

/** The JSON body; throws with it when the status is not `expected`. */
export async function expectStatus(response: Response, expected: number): Promise<unknown> {
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status !== expected) {
    throw new Error(
      `${response.url}: status ${response.status}, expected ${expected}: ${JSON.stringify(body)}`,
    );
  }
  return body;
}
