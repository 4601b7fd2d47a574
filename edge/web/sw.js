// The exported page's service worker: once the page has loaded, it works offline.
// The page sends the addresses it loaded (itself, its scripts, the model, the one WebAssembly build
// this browser uses) once the model is ready; they are kept in a cache named after this export,
// and answered from there first. A new export (another CACHE name) replaces the old cache.
const CACHE = "digitlite-web-{export_id}";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("digitlite-web-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  const urls = (event.data && event.data.keep) || [];
  const scope = new URL(self.registration.scope);
  const same = urls.filter((u) => new URL(u).origin === scope.origin);
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(same)).then(
    () => event.source.postMessage({ kept: same.length }),
    (err) => event.source.postMessage({ error: String(err) })));
});

self.addEventListener("fetch", (event) => {
  if (event.request.method !== "GET") return;
  event.respondWith((async () => {
    const cached = await caches.match(event.request, { ignoreSearch: true });
    return cached || fetch(event.request);
  })());
});
