// jiommu serve: the single page over the JSON API (docs/serve.md). Plain JS, no build step.
'use strict';

const state = { position: 0, total: 0, steps: [], chart: null };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

async function api(name, params, post) {
  const q = new URLSearchParams(params || {});
  const res = post
    ? await fetch('/api/' + name, { method: 'POST', body: q, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
    : await fetch('/api/' + name + (q.toString() ? '?' + q : ''));
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.status);
  return body;
}

function showError(e) {
  const box = $('error');
  box.hidden = false;
  box.textContent = String(e.message || e);
}

async function init() {
  const sc = await api('scenario');
  $('scenario-file').textContent = sc.file || '';
  if (sc.invalid) {
    $('problems').hidden = false;
    $('problem-lines').textContent = sc.problems.map(p => p.text).join('\n')
      + '\n' + sc.total + (sc.total === 1 ? ' problem' : ' problems');
    document.body.dataset.ready = 'invalid';
    return;
  }
  if (!sc.loaded) {
    showError('no scenario loaded: jiommu serve SCENARIO.yaml');
    document.body.dataset.ready = 'empty';
    return;
  }
  if (sc.platformError) {
    showError(sc.platformError);
    document.body.dataset.ready = 'error';
    return;
  }
  $('scenario-name').textContent = '— ' + sc.name;
  $('summary').textContent = sc.summary;
  state.total = sc.steps;
  $('main').hidden = false;
  await refresh();
}

async function refresh() {
  const [steps, platform, stats] = await Promise.all([api('steps'), api('platform'), api('stats')]);
  state.position = steps.position;
  state.steps = steps.steps;
  renderSteps();
  renderTopology(platform);
  renderChart(stats);
  document.body.dataset.position = String(state.position);
  document.body.dataset.ready = 'yes';
}

async function runTo(n) {
  try {
    $('error').hidden = true;
    await api('step', { n: String(n) }, true);
    await refresh();
  } catch (e) { showError(e); }
}

function renderSteps() {
  const ol = $('steps');
  ol.replaceChildren();
  for (const s of state.steps) {
    const cls = ['step', s.ran ? 'ran' : 'pending'];
    if (s.ran && s.status === 'FAILED') cls.push('failed');
    if (s.ran && s.fault !== undefined) cls.push('fault');
    if (s.step === state.position) cls.push('current');
    const li = el('li', { class: cls.join(' '), 'data-n': s.step, title: (s.note || '') + (s.mismatch ? '\n' + s.mismatch : '') },
      el('span', { class: 'num', text: s.step }), s.call,
      s.ran ? el('span', { class: 'result', text: '→ ' + s.result + (s.status === 'FAILED' ? '  FAILED: ' + s.mismatch : '') }) : null);
    li.addEventListener('click', () => runTo(s.step));
    ol.append(li);
  }
  $('position').textContent = state.position + ' / ' + state.total;
  const cur = state.steps[state.position - 1];
  const out = $('step-output');
  if (cur && cur.output) { out.hidden = false; out.textContent = cur.output; } else { out.hidden = true; out.textContent = ''; }
}

function domBadge(d, prefix) {
  return el('span', { class: 'dom ' + d.class, title: d.type || '' , text: (prefix || '') + d.name });
}

function renderTopology(p) {
  const byName = new Map(p.devices.map(d => [d.name, d]));
  const groupOf = new Map();
  for (const g of p.groups) for (const d of g.devices) groupOf.set(d, g);
  const top = $('topology');
  top.replaceChildren();
  const iommus = p.iommus.map(i => i.name);
  const sections = [...iommus, null];
  for (const iommu of sections) {
    const devs = p.devices.filter(d => (d.iommu || null) === iommu && !d.bridge);
    if (iommu === null && devs.length === 0) continue;
    const kind = iommu === null ? '' : p.iommus.find(i => i.name === iommu).kind;
    const box = el('div', { class: 'iommu', 'data-iommu': iommu || '' },
      el('div', { class: 'title', text: iommu === null ? 'no IOMMU' : iommu + ' (' + kind + ')' }));
    const drawn = new Set();
    for (const d of devs) {
      const g = groupOf.get(d.name);
      if (g && drawn.has(g.id)) continue;
      if (g) drawn.add(g.id);
      const members = g ? g.devices.map(n => byName.get(n)).filter(x => x) : [d];
      const gbox = el('div', { class: 'group ' + (g ? g.domain.class : 'none'), 'data-group': g ? g.id : '',
        title: members.map(m => m.name + ': ' + (m.reason || '')).join('\n') });
      if (g) {
        const title = el('div', { class: 'title' }, 'group ' + g.id + ' ', domBadge(g.domain),
          g.owner ? ' owner ' + g.owner : '', g.defaultDomain.class !== 'none' && g.domain.name !== 'default' ? el('span', { text: ' (default domain ' + g.defaultDomain.type + ')' }) : null);
        gbox.append(title);
        for (const ps of g.pasids) gbox.append(el('div', { class: 'pasid', 'data-pasid': ps.pasid }, 'PASID ' + ps.pasid + ' ', domBadge(ps)));
      } else {
        gbox.append(el('div', { class: 'title', text: 'no group' }));
      }
      for (const m of members) {
        const chip = el('span', { class: 'device' + (m.probed ? '' : ' unprobed'), 'data-dev': m.name,
          title: [m.bdf, m.kind, m.driver ? 'driver ' + m.driver : 'no driver', m.atsEnabled ? 'ATS on' : null, m.reason].filter(x => x).join('\n') },
          m.name + (m.bdf ? ' ' + m.bdf.replace(/^0000:/, '') : ''));
        chip.addEventListener('click', () => { $('walk-dev').value = m.name; $('dma-dev').value = m.name; walk(); });
        gbox.append(chip);
      }
      box.append(gbox);
    }
    top.append(box);
  }
  // PCI hierarchy: buses, bridges, functions
  const pci = $('pci');
  pci.replaceChildren();
  const buses = new Map(p.pciBuses.map(b => [b.id, b]));
  const childBus = new Map();
  for (const b of p.pciBuses) if (b.self) childBus.set(b.self, b);
  const drawBus = b => {
    const ul = el('ul', { class: 'pci' });
    for (const n of b.devices) {
      const d = byName.get(n);
      const li = el('li', { 'data-pci': n }, (d && d.bdf ? d.bdf.replace(/^0000:/, '') + ' ' : '') + n + (d && d.kind ? ' (' + d.kind + ')' : ''));
      const sub = childBus.get(n);
      if (sub) li.append(el('div', { text: 'bus ' + sub.id }), drawBus(sub));
      ul.append(li);
    }
    return ul;
  };
  for (const b of p.pciBuses) if (!b.parent) pci.append(el('div', { text: 'root bus ' + b.id }), drawBus(b));
  if (!p.pciBuses.length) pci.textContent = '(no PCI functions)';
  const doms = $('domains');
  doms.replaceChildren();
  for (const d of p.domains) doms.append(el('li', {}, domBadge(d), ' ' + (d.type || '') + (d.users.length ? ' — ' + d.users.join(', ') : '')));
  for (const sel of [$('walk-dev'), $('dma-dev')]) {
    const keep = sel.value;
    sel.replaceChildren(...p.devices.filter(d => !d.bridge).map(d => el('option', { value: d.name, text: d.name })));
    if (keep && byName.has(keep)) sel.value = keep;
  }
}

function walkTable(w) {
  const t = el('table', { class: 'walk' }, el('tr', {}, el('th', { text: 'entry' }), el('th', { text: 'address' }),
    el('th', { text: 'raw 64-bit words' }), el('th', { text: 'decoded fields' })));
  for (const e of w.entries) {
    const fields = el('td', { class: 'fields' });
    for (const [k, v] of Object.entries(e.fields)) fields.append(el('span', { 'data-field': k, text: k + '=' + v }));
    t.append(el('tr', { class: 'entry', 'data-name': e.name }, el('td', { text: e.name }), el('td', { text: e.address || 'register' }),
      el('td', { class: 'words', text: e.words.join(' ') }), fields));
  }
  return t;
}

function walkResult(w) {
  return el('div', { class: 'walk-result' + (w.outputAddress === null ? ' fault' : ''), text: w.result });
}

function params(prefix) {
  const p = { dev: $(prefix + '-dev').value, iova: $(prefix + '-iova').value.trim() };
  const pasid = $(prefix + '-pasid').value.trim();
  if (pasid) p.pasid = pasid;
  return p;
}

async function walk() {
  const box = $('walk');
  try {
    const w = await api('walk', params('walk'));
    box.replaceChildren(el('div', { text: w.dev + ' (source id ' + w.sourceId + ') on ' + w.unit + ', iova ' + w.iova }), walkTable(w), walkResult(w));
  } catch (e) { box.replaceChildren(el('div', { class: 'err', text: e.message })); }
}

function ptNode(n) {
  if (n.leaf) {
    const what = n.count > 1 ? n.count + ' × ' + n.size + ' = ' + n.span : n.size;
    return el('div', { class: 'leaf', 'data-iova': n.iova }, n.iova + ' +' + n.span + ' (' + what + ') pte ' + n.pte + (n.count > 1 ? ' … ' + n.lastPte : ''));
  }
  const d = el('details', { 'data-iova': n.iova }, el('summary', { text: 'L' + n.level + ' ' + n.iova + ' +' + n.size + ' table ' + n.pte }));
  for (const c of n.children) d.append(ptNode(c));
  return d;
}

async function table() {
  const box = $('pagetable');
  try {
    const p = params('walk');
    delete p.iova;
    const t = await api('table', p);
    const root = el('div', { class: 'pt' }, el('div', {}, 'page table of ', domBadge({ name: t.domain, class: t.class }),
      t.paging ? ' root ' + t.root : ' (no page table)'));
    for (const c of t.children) root.append(ptNode(c));
    if (t.truncated) root.append(el('div', { class: 'err', text: '(cut: too many nodes)' }));
    box.replaceChildren(root);
    box.querySelectorAll('details').forEach(d => { d.open = true; });
  } catch (e) { box.replaceChildren(el('div', { class: 'err', text: e.message })); }
}

async function dma() {
  const box = $('dma-result');
  try {
    const p = params('dma');
    p.size = $('dma-size').value.trim();
    p.dir = $('dma-dir').value;
    const r = await api('dma', p, true);
    box.className = r.faulted ? 'fault' : 'ok';
    const c = r.caches;
    box.replaceChildren(
      el('div', { class: 'dma-outcome', text: r.dir + ' ' + r.size + ' bytes at ' + r.iova + ': ' + r.result + (r.message ? ' — ' + r.message : '') }),
      el('div', { class: 'dma-caches', text: 'ATC ' + c.atcHits + ' hit / ' + c.atcMisses + ' miss; IOTLB ' + c.iotlbHits + ' hit / ' + c.iotlbMisses + ' miss' }),
      r.walk ? el('div', { text: 'translation path (what a miss reads):' }) : null,
      r.walk ? walkTable(r.walk) : null, r.walk ? walkResult(r.walk) : null);
    const stats = await api('stats');
    renderChart(stats);
  } catch (e) { box.className = 'fault'; box.replaceChildren(el('div', { class: 'err', text: e.message })); }
}

function renderChart(stats) {
  const rows = stats.steps;
  const x = rows.map(r => r.step);
  const data = [x, rows.map(r => r.iotlbHitRate), rows.map(r => r.atcHitRate), rows.map(r => r.faults)];
  const box = $('chart');
  if (typeof uPlot === 'undefined') { box.textContent = '(charting library missing)'; return; }
  if (state.chart) { state.chart.destroy(); }
  box.replaceChildren();
  const width = Math.max(400, box.clientWidth || 700);
  state.chart = new uPlot({
    width, height: 220,
    scales: { x: { time: false }, rate: { range: [0, 1] }, n: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{ label: 'step' }, { scale: 'rate', label: 'hit rate' }, { scale: 'n', side: 1, label: 'faults', grid: { show: false } }],
    series: [{ label: 'step' },
      { label: 'IOTLB hit rate', scale: 'rate', stroke: '#3f6ad8', spanGaps: true },
      { label: 'ATC hit rate', scale: 'rate', stroke: '#2e7d32', spanGaps: true },
      { label: 'faults', scale: 'n', stroke: '#d32f2f' }],
  }, data, box);
}

function wire() {
  $('reset').addEventListener('click', () => runTo(0));
  $('back').addEventListener('click', () => runTo(Math.max(0, state.position - 1)));
  $('forward').addEventListener('click', () => runTo(Math.min(state.total, state.position + 1)));
  $('run-end').addEventListener('click', () => runTo(state.total));
  $('walk-form').addEventListener('submit', e => { e.preventDefault(); walk(); });
  $('table-go').addEventListener('click', table);
  $('dma-form').addEventListener('submit', e => { e.preventDefault(); dma(); });
}

wire();
init().catch(showError);
