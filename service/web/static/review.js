// SPDX-License-Identifier: GPL-3.0-or-later
// The review page: the queue of uploads in review or flagged, a 3D view of one upload with the
// regions that matched a reference highlighted, and approve/reject with a reason (audit log).
// Every API call carries the reviewer token (kept in sessionStorage; #token=... signs in once).
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const $ = (id) => document.getElementById(id);
const state = { token: null, job: null, rendered: false, triangles: 0, highlighted: 0, points: 0 };
window.__review = state;  // read by the browser test

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + state.token }, options.headers || {});
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401 || res.status === 403) {
    sessionStorage.removeItem('partscreen-token');
    showLogin('That token cannot review (' + res.status + ').');
    throw new Error('unauthorized');
  }
  if (!res.ok) {
    let reason = res.statusText;
    try { reason = (await res.json()).error.reason; } catch (e) { /* not JSON */ }
    throw new Error(reason);
  }
  return res;
}

function showLogin(message) {
  $('login').hidden = false;
  $('who').textContent = message || '';
}

// ---- 3D view ----
const view = $('view');
let renderer, scene, camera, controls, content;

function initView() {
  renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio);
  renderer.setClearColor(0xfafafa);
  view.appendChild(renderer.domElement);
  scene = new THREE.Scene();
  camera = new THREE.PerspectiveCamera(40, 1, 0.01, 1e7);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x666666, 2.0));
  const sun = new THREE.DirectionalLight(0xffffff, 1.5);
  sun.position.set(1, 2, 3);
  camera.add(sun);
  scene.add(camera);
  controls = new OrbitControls(camera, renderer.domElement);
  controls.addEventListener('change', draw);
  new ResizeObserver(resize).observe(view);
  resize();
}

function resize() {
  const w = view.clientWidth || 1, h = view.clientHeight || 1;
  renderer.setSize(w, h);
  camera.aspect = w / h;
  camera.updateProjectionMatrix();
  draw();
}

function draw() { if (renderer) renderer.render(scene, camera); }

// "PSM1", file count, then per file: name length, name (padded to 4), vertex count, triangle
// count, float32 positions, uint32 indices (service/server.cpp mesh_blob).
function parseMeshes(buffer) {
  const dv = new DataView(buffer);
  if (new TextDecoder().decode(new Uint8Array(buffer, 0, 4)) !== 'PSM1') throw new Error('bad mesh data');
  let at = 4;
  const n = dv.getUint32(at, true); at += 4;
  const files = [];
  for (let i = 0; i < n; i++) {
    const len = dv.getUint32(at, true); at += 4;
    const name = new TextDecoder().decode(new Uint8Array(buffer, at, len)); at += len + ((4 - len % 4) % 4);
    const nv = dv.getUint32(at, true); at += 4;
    const nt = dv.getUint32(at, true); at += 4;
    const positions = new Float32Array(buffer.slice(at, at + nv * 12)); at += nv * 12;
    const indices = new Uint32Array(buffer.slice(at, at + nt * 12)); at += nt * 12;
    files.push({ name, positions, indices });
  }
  return files;
}

// Colours the vertices within `radius` of a found point (a uniform grid keeps it linear).
function highlight(positions, points, radius) {
  const colors = new Float32Array(positions.length);
  for (let i = 0; i < colors.length; i += 3) { colors[i] = 0.72; colors[i + 1] = 0.74; colors[i + 2] = 0.78; }
  if (!points.length) return { colors, count: 0 };
  const cell = radius, grid = new Map();
  const key = (x, y, z) => `${Math.floor(x / cell)},${Math.floor(y / cell)},${Math.floor(z / cell)}`;
  for (const p of points) {
    const k = key(p[0], p[1], p[2]);
    if (!grid.has(k)) grid.set(k, []);
    grid.get(k).push(p);
  }
  let count = 0;
  const r2 = radius * radius;
  for (let i = 0; i < positions.length; i += 3) {
    const x = positions[i], y = positions[i + 1], z = positions[i + 2];
    const cx = Math.floor(x / cell), cy = Math.floor(y / cell), cz = Math.floor(z / cell);
    let hit = false;
    for (let dx = -1; dx <= 1 && !hit; dx++) for (let dy = -1; dy <= 1 && !hit; dy++) for (let dz = -1; dz <= 1 && !hit; dz++) {
      const list = grid.get(`${cx + dx},${cy + dy},${cz + dz}`);
      if (!list) continue;
      for (const p of list) {
        const ex = p[0] - x, ey = p[1] - y, ez = p[2] - z;
        if (ex * ex + ey * ey + ez * ez <= r2) { hit = true; break; }
      }
    }
    if (hit) { colors[i] = 0.85; colors[i + 1] = 0.12; colors[i + 2] = 0.1; count++; }
  }
  return { colors, count };
}

function medianSpacing(points) {
  if (points.length < 2) return 0;
  const sample = points.length > 600 ? points.filter((_, i) => i % Math.ceil(points.length / 600) === 0) : points;
  const d = sample.map((p) => {
    let best = Infinity;
    for (const q of points) {
      if (q === p) continue;
      const e = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2;
      if (e > 0 && e < best) best = e;
    }
    return Math.sqrt(best);
  }).filter(Number.isFinite).sort((a, b) => a - b);
  return d.length ? d[d.length >> 1] : 0;
}

function showMeshes(files, highlights) {
  if (content) { scene.remove(content); content.traverse((o) => { if (o.geometry) o.geometry.dispose(); }); }
  content = new THREE.Group();
  const box = new THREE.Box3();
  for (const f of files) for (let i = 0; i < f.positions.length; i += 3)
    box.expandByPoint(new THREE.Vector3(f.positions[i], f.positions[i + 1], f.positions[i + 2]));
  const size = box.isEmpty() ? 1 : box.getSize(new THREE.Vector3()).length();
  const points = highlights.flatMap((h) => h.points);
  state.triangles = 0; state.highlighted = 0; state.points = points.length;
  // Found keypoints are a sparse sample of the matched surface: a vertex is in a matched region
  // when it lies within twice their typical spacing (median nearest-neighbour distance) of one.
  const radius = Math.min(size * 0.08, Math.max(size * 0.01, 2 * medianSpacing(points)));
  for (const f of files) {
    const g = new THREE.BufferGeometry();
    g.setAttribute('position', new THREE.BufferAttribute(f.positions, 3));
    const { colors, count } = highlight(f.positions, points, radius);
    state.highlighted += count;
    g.setAttribute('color', new THREE.BufferAttribute(colors, 3));
    if (f.indices.length) {
      g.setIndex(new THREE.BufferAttribute(f.indices, 1));
      g.computeVertexNormals();
      content.add(new THREE.Mesh(g, new THREE.MeshStandardMaterial({ vertexColors: true, roughness: 0.8, side: THREE.DoubleSide })));
      state.triangles += f.indices.length / 3;
    } else {
      content.add(new THREE.Points(g, new THREE.PointsMaterial({ vertexColors: true, size: size * 0.004 })));
    }
  }
  if (points.length) {
    const pg = new THREE.BufferGeometry();
    pg.setAttribute('position', new THREE.BufferAttribute(new Float32Array(points.flat()), 3));
    content.add(new THREE.Points(pg, new THREE.PointsMaterial({ color: 0xd50000, size: size * 0.006 })));
  }
  scene.add(content);
  const center = box.isEmpty() ? new THREE.Vector3() : box.getCenter(new THREE.Vector3());
  controls.target.copy(center);
  camera.position.copy(center).add(new THREE.Vector3(0.6, -0.9, 0.7).multiplyScalar(size * 1.1));
  camera.up.set(0, 0, 1);
  camera.near = size / 1000; camera.far = size * 100;
  camera.updateProjectionMatrix();
  controls.update();
  draw();
  state.rendered = true;
}

// ---- queue and decisions ----
async function loadQueue() {
  const { jobs } = await (await api('/api/review/queue')).json();
  const list = $('queue');
  list.replaceChildren();
  $('queue-empty').hidden = jobs.length > 0;
  for (const j of jobs) {
    const li = document.createElement('li');
    li.dataset.id = j.id;
    const v = document.createElement('span');
    v.className = j.verdict;
    v.textContent = j.verdict;
    li.append(v, ` ${j.files.map((f) => f.name).join(', ')} `);
    const small = document.createElement('small');
    small.textContent = `(${j.account}${j.best ? ', ' + j.best.label + ' ' + j.best.score.toFixed(2) : ''}${j.cumulative ? ', cumulative' : ''})`;
    li.append(small);
    li.addEventListener('click', () => openJob(j.id));
    list.append(li);
  }
  return jobs;
}

// Why a match scores as it does, in a reviewer's words, from the scan's own fields (README, JSON
// contract): pieces and where they are, what of the reference is missing and where it went, thin
// walls of another thickness, a unit mistake. Empty for a whole, plain copy.
function matchNotes(m) {
  const pct = (x) => Math.round(100 * x) + '%';
  const notes = [];
  const parts = m.parts || [];
  const carriers = new Set(parts.map((p) => p.file + '#' + p.component)).size;
  if (parts.some((p) => p.reassembled)) notes.push(`found in ${carriers} cut pieces glued back together at their flat cut faces`);
  else if (carriers > 1) notes.push(`spread over ${carriers} parts of the job (pieces, or a part split across files)`);
  if (parts.some((p) => p.enclosed)) notes.push('inside a closed cavity: not visible from outside');
  if (m.absent >= 0.02) notes.push(`${pct(m.absent)} of the reference missing where the upload has open space (another design there?)`);
  if (m.hidden >= 0.02) notes.push(`${pct(m.hidden)} of the reference inside the upload's material (fused, buried or filled in)`);
  if (m.filled_in) notes.push('filled in where the reference stands: the upload adds nothing beyond its box');
  if (m.wall_mismatch >= 0.3) notes.push(`${pct(m.wall_mismatch)} of its thin walls are another thickness: thickened or stretched, not resized`);
  else if (m.wall_mismatch > 0.1) notes.push(`${pct(m.wall_mismatch)} of its thin walls are another thickness (lowers the score)`);
  if (m.explained < 0.6) notes.push(`the reference makes up ${pct(m.explained)} of the part that carries it`);
  if (Math.abs(m.scale / 25.4 - 1) < 0.1 || Math.abs(m.scale * 25.4 - 1) < 0.1) notes.push('an inch/mm unit change');
  return notes;
}
state.matchNotes = matchNotes;  // the browser test checks it on made-up matches

async function openJob(id) {
  state.rendered = false;
  for (const li of $('queue').children) li.classList.toggle('current', li.dataset.id === id);
  const job = await (await api('/api/review/jobs/' + id)).json();
  state.job = job;
  $('job').hidden = false;
  $('job-title').textContent = job.files.map((f) => f.name).join(', ');
  $('job-verdict').innerHTML = '';
  const v = document.createElement('span');
  v.className = job.verdict;
  v.textContent = job.verdict;
  $('job-verdict').append('Verdict: ', v, ` · account ${job.account} · job ${job.id}`);
  $('job-cumulative').hidden = !job.cumulative;
  if (job.cumulative) $('job-cumulative').textContent = 'Cumulative: ' + job.cumulative.explanation;
  const body = $('matches').tBodies[0];
  body.replaceChildren();
  for (const m of (job.result ? job.result.matches : [])) {
    const tr = document.createElement('tr');
    for (const cell of [m.label || m.reference, m.score.toFixed(2), m.coverage.toFixed(2), m.scale.toFixed(2), m.mirrored ? 'yes' : 'no']) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    body.append(tr);
    const notes = matchNotes(m);
    if (notes.length) {
      const why = document.createElement('tr');
      why.className = 'why';
      const td = document.createElement('td');
      td.colSpan = 5;
      td.textContent = notes.join('; ');
      why.append(td);
      body.append(why);
    }
  }
  $('decisions').replaceChildren(...job.decisions.map((d) => {
    const li = document.createElement('li');
    li.textContent = `${d.decision} by ${d.reviewer}: ${d.reason}`;
    return li;
  }));
  $('status').textContent = 'loading the upload…';
  const buffer = await (await api(`/api/review/jobs/${id}/mesh`)).arrayBuffer();
  showMeshes(parseMeshes(buffer), job.highlights || []);
  $('status').textContent = `${state.triangles} triangles, ${state.highlighted} vertices in matched regions`;
}

async function decide(decision) {
  if (!state.job) return;
  const reason = $('reason').value.trim();
  if (!reason) { $('status').textContent = 'Write a reason first: it goes to the audit log.'; return; }
  try {
    await api(`/api/review/jobs/${state.job.id}/decision`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ decision, reason }),
    });
    $('reason').value = '';
    await loadQueue();
    $('status').textContent = `${decision === 'approve' ? 'Approved' : 'Rejected'}: recorded in the audit log.`;
  } catch (e) {
    $('status').textContent = 'Not recorded: ' + e.message;
  }
}

async function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) { sessionStorage.setItem('partscreen-token', fromHash); history.replaceState(null, '', location.pathname); }
  state.token = sessionStorage.getItem('partscreen-token');
  if (!state.token) { showLogin(); return; }
  $('login').hidden = true;
  initView();
  try {
    const jobs = await loadQueue();
    $('who').textContent = `${jobs.length} upload(s) waiting`;
    if (jobs.length) await openJob(jobs[0].id);
  } catch (e) {
    if (e.message !== 'unauthorized') $('who').textContent = 'Error: ' + e.message;
  }
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem('partscreen-token', $('token').value.trim());
  location.reload();
});
$('refresh').addEventListener('click', () => loadQueue());
$('approve').addEventListener('click', () => decide('approve'));
$('reject').addEventListener('click', () => decide('reject'));
start();
