// The staff page's service worker (issue 12 item 3): it keeps /verify and
// the files it loads, so that the page opens with no network. Cache first,
// so that a counter with a poor connection opens the page at once; each
// answer from the cache is refreshed from the network behind it, so the
// next load has what the service serves now. Only these files: API calls
// (the trust bundle included, which the page keeps in IndexedDB itself)
// always go to the network, never to this cache. The type registry's
// answers the page keeps itself (i18n.js, Cache Storage eidwallet-types-v1).
//
// Served as /assets/sw.js with Service-Worker-Allowed: /verify (pages.go),
// registered with the scope /verify.

const CACHE = 'eidwallet-verify-v2';
const FILES = [
  '/verify',
  '/assets/app.css',
  '/assets/common.js',
  '/assets/verify.js',
  '/assets/offline.js',
  '/assets/i18n.js',
  '/assets/i18n-en.js',
  '/assets/i18n-vi.js',
  '/assets/icon.svg',
  '/assets/manifest.webmanifest',
  '/vendor/cbor-x.js',
  '/vendor/jsQR.js',
];

self.addEventListener('install', (ev) => {
  ev.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(FILES.map((f) => new Request(f, { cache: 'no-cache', credentials: 'omit' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE && name.startsWith('eidwallet-verify-')) await caches.delete(name);
    }
    // The page that registered this worker is offline-ready at once,
    // without a reload.
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || !FILES.includes(url.pathname)) return;
  // /verify?anything is the page; the files have no query.
  if (url.search && url.pathname !== '/verify') return;
  ev.respondWith(cacheFirst(url.pathname, ev));
});

async function cacheFirst(path, ev) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(path);
  const fresh = fetch(path, { cache: 'no-cache', credentials: 'omit', redirect: 'error' }).then(async (resp) => {
    if (resp.ok) await cache.put(path, resp.clone());
    return resp;
  });
  if (hit) {
    ev.waitUntil(fresh.catch(() => {})); // no network: the cached copy stays
    return hit;
  }
  return fresh;
}
