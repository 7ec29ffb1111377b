#!/usr/bin/env node
// Drift check: every operation (path + method) in docs/swagger.json must have
// at least one request in the Postman collection, so a new or renamed
// endpoint cannot ship without an example and tests.
//
// Usage: node devtools/postman-coverage.mjs [swagger.json] [collection.json]
// Exit status: 0 when covered, 1 listing what is missing, 2 on unreadable input.
// Plain Node, no dependencies.

import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const swaggerPath = process.argv[2] ?? join(root, 'docs/swagger.json');
const collectionPath = process.argv[3] ?? join(root, 'docs/postman/api.postman_collection.json');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

function readJSON(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    console.error(`postman-coverage: cannot read ${path}: ${err.message}`);
    process.exit(2);
  }
}

// A path parameter segment in any of the forms the collection may use:
// {id} (OpenAPI), :id (Postman path variable) or {{tweetId}} (a variable).
const isParam = (seg) => /^(\{[^{}]+\}|:\w+|\{\{[^{}]+\}\})$/.test(seg);

const splitPath = (path) => path.split('/').filter(Boolean);

// The path of a collection request, without base URL, query or fragment;
// null when it cannot be known without running (e.g. {{baseUrl}}{{nextPage}}).
function requestPath(url) {
  if (Array.isArray(url?.path)) {
    return url.path.map((s) => (typeof s === 'string' ? s : s.value ?? '')).filter(Boolean);
  }
  const raw = (typeof url === 'string' ? url : url?.raw ?? '').split(/[?#]/)[0];
  // Strip the scheme and host, or a leading variable standing for them.
  const rest = raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/]+|\{\{[^{}]+\}\})/i, '');
  if (rest !== '' && !rest.startsWith('/')) return null; // the path is in a variable
  return splitPath(rest);
}

// Every request in the collection, folders flattened, with its folder trail.
function* requests(items, trail = []) {
  for (const item of items ?? []) {
    if (item.item) yield* requests(item.item, [...trail, item.name]);
    else if (item.request) yield { name: [...trail, item.name].join(' / '), request: item.request };
  }
}

// Does a request path match a swagger template? Static segments must be equal;
// a template parameter takes one segment, literal or parameter.
function matches(template, segs) {
  return template.length === segs.length && template.every((t, i) => isParam(t) || t === segs[i]);
}

const swagger = readJSON(swaggerPath);
const collection = readJSON(collectionPath);

const operations = [];
for (const [path, item] of Object.entries(swagger.paths ?? {})) {
  for (const method of METHODS) {
    if (item[method]) operations.push({ method: method.toUpperCase(), path, segs: splitPath(path) });
  }
}
if (operations.length === 0) {
  console.error(`postman-coverage: ${swaggerPath} has no operations`);
  process.exit(2);
}

const staticPaths = operations.filter((o) => !o.segs.some(isParam));
const reqs = [...requests(collection.item)];
const covered = new Set();
for (const { request } of reqs) {
  const segs = requestPath(request.url);
  if (segs === null) continue;
  const method = String(request.method ?? 'GET').toUpperCase();
  // A concrete path that is a static route (say /users/me) is not also a
  // request to the template beside it (/users/{id}).
  const exact = staticPaths.find((o) => o.method === method && matches(o.segs, segs));
  for (const op of exact ? [exact] : operations) {
    if (op.method === method && matches(op.segs, segs)) covered.add(`${op.method} ${op.path}`);
  }
}

const missing = operations.filter((o) => !covered.has(`${o.method} ${o.path}`));
const rel = (p) => (resolve(p).startsWith(root + sep) ? relative(root, resolve(p)) : p);
if (missing.length > 0) {
  console.error(`postman-coverage: ${missing.length} of ${operations.length} operations in ${rel(swaggerPath)} have no request in ${rel(collectionPath)}:`);
  for (const o of missing) console.error(`  ${o.method} ${o.path}`);
  console.error('Add a request for each (with tests) to the collection, or remove the operation from the API.');
  process.exit(1);
}
console.log(`postman-coverage: OK, all ${operations.length} operations in ${rel(swaggerPath)} are covered by the ${reqs.length} requests in ${rel(collectionPath)}`);
