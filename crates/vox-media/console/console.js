// The Vox console: calls an agent from this browser over WHIP (RFC 9725) and shows the call
// as it happens, from the events Vox sends on the call's data channel (their shapes:
// crates/vox-media/src/page_events.rs). Plain JavaScript, no framework, nothing fetched from
// elsewhere: the page works offline.
//
// What the page measures itself (window.voxConsole, read by tests/e2e_console.rs too):
// - `mic` and `agent`: stretches of sound, [{on, off}] in performance.now() ms, from the
//   RMS level of the microphone and of the agent's audio as played here (WebAudio, every
//   10 ms over the last ~10.7 ms; sound is at or above -40 dBFS, and a stretch ends after
//   150 ms below it, at its last loud sample);
// - each turn's "first audio played": the turn's latency event leaves Vox the moment its
//   first audio was sent, so the audio's onset here, minus the event's arrival, is the
//   time from sent to heard (network, the browser's jitter buffer, playout), added to
//   `firstAudioSentMs`. Its error: the 10 ms sampling, and how much sooner or later the
//   data channel delivered the event than the audio path its first packet.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  const LOUD = 0.01; // -40 dBFS
  const QUIET_RUN_MS = 150;
  const ICE_GATHERING_MS = 3000;

  const vc = {
    status: 'idle',
    callId: null,
    error: null,
    events: [],
    mic: [],
    agent: [],
    turns: {},
    jitterBufferMs: [],
  };
  window.voxConsole = vc;

  let call = null;
  // STUN/TURN servers for file agents' calls (an API agent's web call brings its own)
  let fileIceServers = [];

  // ---- small helpers

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function setStatus(text, kind) {
    vc.status = text;
    const s = $('status');
    s.textContent = text;
    s.className = 'status ' + (kind || '');
  }

  function notice(text, isError) {
    const n = $('notice');
    n.hidden = !text;
    n.textContent = text || '';
    n.className = 'notice' + (isError ? ' error' : '');
  }

  function errorText(body) {
    if (!body) return '';
    if (body.error && body.error.message) return body.error.message;
    return body.message || JSON.stringify(body);
  }

  async function bodyOf(res) {
    try {
      return await res.json();
    } catch (_) {
      return null;
    }
  }

  // The control-plane API, with the token typed into the page.
  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + $('token').value.trim() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await bodyOf(res);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${errorText(json)}`);
    return json;
  }

  // ---- agents

  function addAgent(kind, id, name) {
    const o = document.createElement('option');
    o.value = kind + ':' + id;
    const label = name && name !== id ? `${name} (${id})` : id;
    o.textContent = kind === 'api' ? label + ' · API' : label;
    $('agent').append(o);
  }

  async function loadFileAgents() {
    try {
      const res = await fetch('/console/agents', { cache: 'no-store' });
      const j = await res.json();
      if (!j.webrtc) {
        notice('Browser calls are turned off on this server (webrtc.enabled = false).', true);
        $('call').disabled = true;
      } else if (!j.fileAgents) {
        notice(
          "This address may not call the server's file agents (media.trusted_sources): " +
            'list the agents of a business with an API token below.',
        );
        $('api').open = true;
      }
      for (const a of j.agents) addAgent('file', a.id, a.name);
      fileIceServers = j.iceServers || [];
    } catch (e) {
      notice('Could not list the agents: ' + e, true);
    }
    if (params.get('processing') === '0') $('processing').checked = false;
    const wanted = params.get('agent');
    if (wanted) $('agent').value = 'file:' + wanted;
  }

  async function loadApiAgents() {
    const business = $('business').value.trim();
    if (!$('token').value.trim() || !business) {
      notice('Both an access token and a business id are needed.', true);
      return;
    }
    try {
      const j = await api(
        'GET',
        `/v1/businesses/${encodeURIComponent(business)}/voice-agents?page_size=100`,
      );
      for (const o of [...$('agent').options]) if (o.value.startsWith('api:')) o.remove();
      for (const a of j.items) addAgent('api', a.id, a.name);
      if (j.items.length) $('agent').value = 'api:' + j.items[0].id;
      notice(j.items.length ? `${j.items.length} agent(s) of ${business} listed.` : `${business} has no agents.`);
    } catch (e) {
      notice(String(e.message || e), true);
    }
  }

  // ---- audio levels

  function meter(ctx, stream) {
    const src = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    src.connect(analyser);
    return { analyser, buf: new Float32Array(analyser.fftSize) };
  }

  function rms(m) {
    m.analyser.getFloatTimeDomainData(m.buf);
    let sum = 0;
    for (const v of m.buf) sum += v * v;
    return Math.sqrt(sum / m.buf.length);
  }

  function widthOf(level) {
    const db = 20 * Math.log10(level + 1e-9);
    return Math.max(0, Math.min(100, ((db + 60) / 60) * 100)) + '%';
  }

  // Stretches of sound in `list`; true at an onset.
  function tracker(list) {
    return { list, open: null, lastLoud: 0 };
  }

  function track(t, level, now) {
    if (level >= LOUD) {
      t.lastLoud = now;
      if (!t.open) {
        t.open = { on: now, off: null };
        t.list.push(t.open);
        return true;
      }
    } else if (t.open && now - t.lastLoud >= QUIET_RUN_MS) {
      t.open.off = t.lastLoud;
      t.open = null;
    }
    return false;
  }

  function sample(c) {
    const now = performance.now();
    if (c.micMeter) {
      const level = rms(c.micMeter);
      track(c.micTrack, level, now);
      $('mic-level').style.width = widthOf(level);
    }
    if (c.agentMeter) {
      const level = rms(c.agentMeter);
      if (track(c.agentTrack, level, now)) onAgentOnset(now);
      $('agent-level').style.width = widthOf(level);
    }
  }

  // The browser's own jitter buffer: its mean delay over the last second (inbound-rtp's
  // jitterBufferDelay / jitterBufferEmittedCount), what Vox's playout estimate models.
  async function readStats(c) {
    if (!c.pc) return;
    const stats = await c.pc.getStats();
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
      const prev = c.lastJitter;
      c.lastJitter = { delay: s.jitterBufferDelay, emitted: s.jitterBufferEmittedCount };
      if (!prev || s.jitterBufferEmittedCount <= prev.emitted) return;
      const ms = ((s.jitterBufferDelay - prev.delay) / (s.jitterBufferEmittedCount - prev.emitted)) * 1000;
      vc.jitterBufferMs.push(Math.round(ms));
      $('jitter').textContent = `browser jitter buffer: ${Math.round(ms)} ms`;
    });
  }

  // ---- first audio played

  let awaitingPlay = null; // {turn, sentMs, at}
  let lastOnset = null;

  function onAgentOnset(now) {
    lastOnset = now;
    if (awaitingPlay && now - awaitingPlay.at < 5000) {
      played(awaitingPlay, now);
      awaitingPlay = null;
    }
  }

  function played(wait, onset) {
    const t = turn(wait.turn);
    t.playedMs = Math.round(wait.sentMs + (onset - wait.at));
    renderTurn(wait.turn);
  }

  // ---- events from the call

  function onEvent(data) {
    let ev;
    try {
      ev = JSON.parse(data);
    } catch (_) {
      return;
    }
    const at = performance.now();
    vc.events.push({ at, ev });
    switch (ev.type) {
      case 'speaking':
        onSpeaking(ev);
        break;
      case 'interim':
        onInterim(ev);
        break;
      case 'transcript':
        onTranscript(ev);
        break;
      case 'latency':
        onLatency(ev, at);
        break;
      case 'tool':
        onTool(ev);
        break;
      case 'ended':
        endCall(ev.reason);
        break;
      default:
        break;
    }
  }

  // Agent lines being spoken, by turn: the planned words, until the turn's transcript line
  // says what was heard of them.
  const speakingLines = new Map();

  function addLine(role, who, text) {
    const li = el('li', role);
    li.dataset.role = role;
    li.append(el('span', 'who', who), el('span', 'said', text));
    const list = $('transcript');
    list.append(li);
    list.scrollTop = list.scrollHeight;
    return li;
  }

  function onSpeaking(ev) {
    let li = speakingLines.get(ev.turn);
    if (!li) {
      li = addLine('agent', 'Agent', '');
      li.classList.add('speaking');
      li.dataset.planned = '';
      speakingLines.set(ev.turn, li);
    }
    li.dataset.planned = (li.dataset.planned + ' ' + ev.text).trim();
    li.querySelector('.said').textContent = li.dataset.planned;
  }

  // What of `planned` was not heard, when `heard` is its beginning.
  function unheard(planned, heard) {
    const p = (planned || '').trim();
    const h = (heard || '').trim();
    return p.startsWith(h) ? p.slice(h.length).trim() : '';
  }

  // The caller's words while they speak (from a streaming recognizer): one line in
  // progress, replaced by their transcript line when the turn is taken.
  let interimLine = null;

  function onInterim(ev) {
    if (!interimLine) {
      interimLine = addLine('caller', 'You', '');
      interimLine.classList.add('speaking');
    }
    interimLine.querySelector('.said').textContent = ev.text;
  }

  function onTranscript(ev) {
    if (ev.role === 'caller') {
      if (interimLine) {
        interimLine.remove();
        interimLine = null;
      }
      addLine('caller', 'You', ev.text).dataset.final = 'true';
      return;
    }
    if (ev.role !== 'agent') {
      addLine('system', ev.role, ev.text).dataset.final = 'true';
      return;
    }
    let li = ev.turn === null ? undefined : speakingLines.get(ev.turn);
    if (li) speakingLines.delete(ev.turn);
    else li = addLine('agent', 'Agent', '');
    li.classList.remove('speaking');
    const said = li.querySelector('.said');
    said.textContent = ev.text || '';
    if (ev.interrupted) {
      li.classList.add('interrupted');
      const rest = unheard(li.dataset.planned, ev.text);
      if (rest) said.append(' ', el('del', null, rest));
      li.append(el('span', 'badge', 'cut off by the caller'));
    }
    li.dataset.final = 'true';
  }

  function turn(n) {
    if (!vc.turns[n]) vc.turns[n] = { latency: null, playedMs: null };
    return vc.turns[n];
  }

  function onLatency(ev, at) {
    turn(ev.turn).latency = ev;
    if (ev.firstAudioSentMs !== null && ev.firstAudioSentMs !== undefined) {
      const wait = { turn: ev.turn, sentMs: ev.firstAudioSentMs, at };
      // the audio may have won the race against the event
      if (lastOnset !== null && at - lastOnset < 100) played(wait, lastOnset);
      else awaitingPlay = wait;
    }
    renderTurn(ev.turn);
  }

  const MILESTONES = [
    ['endOfSpeech', 'end of speech'],
    ['endOfTurnMs', 'end of turn'],
    ['asrFinalMs', 'final transcript'],
    ['firstTokenMs', 'first token'],
    ['firstTtsAudioMs', 'first TTS audio'],
    ['firstAudioSentMs', 'first audio sent'],
    ['playedMs', 'first audio played'],
  ];

  function renderTurn(n) {
    const t = turn(n);
    const values = Object.assign({ endOfSpeech: 0 }, t.latency || {}, { playedMs: t.playedMs });
    let box = document.getElementById('turn-' + n);
    if (!box) {
      box = el('div', 'turn');
      box.id = 'turn-' + n;
      $('waterfall').append(box);
    }
    box.replaceChildren(el('div', 'turn-title', 'turn ' + n));
    const known = MILESTONES.map(([k]) => values[k]).filter((v) => typeof v === 'number');
    const scale = Math.max(500, ...known);
    for (const [key, label] of MILESTONES) {
      const v = values[key];
      const row = el('div', 'bar-row');
      row.dataset.milestone = key;
      const trackBox = el('div', 'track');
      const has = typeof v === 'number';
      if (has) {
        const bar = el('div', key === 'playedMs' ? 'bar page' : 'bar');
        bar.style.width = (Math.max(0, v) / scale) * 100 + '%';
        trackBox.append(bar);
      }
      row.append(el('span', null, label), trackBox, el('span', has ? 'ms' : 'ms missing', has ? String(v) : '—'));
      box.append(row);
    }
  }

  const toolItems = new Map();

  function onTool(ev) {
    if (ev.phase === 'called') {
      const li = el('li');
      li.append(el('code', null, `${ev.name}(${JSON.stringify(ev.arguments)})`), el('span', 'result', '…'));
      $('tools').append(li);
      toolItems.set(ev.id, li);
    } else {
      const li = toolItems.get(ev.id);
      if (li) li.querySelector('.result').textContent = '→ ' + ev.result;
    }
  }

  // ---- the call

  function resetView() {
    $('transcript').replaceChildren();
    $('waterfall').replaceChildren();
    $('tools').replaceChildren();
    $('record').replaceChildren(el('p', 'hint', 'After the call.'));
    speakingLines.clear();
    interimLine = null;
    toolItems.clear();
    awaitingPlay = null;
    lastOnset = null;
    vc.callId = null;
    vc.error = null;
    vc.events = [];
    vc.mic = [];
    vc.agent = [];
    vc.turns = {};
    vc.jitterBufferMs = [];
    $('jitter').textContent = '';
    notice('');
  }

  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (pc.iceGatheringState === 'complete') resolve();
      };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, ICE_GATHERING_MS);
    });
  }

  async function startCall() {
    const choice = $('agent').value;
    if (!choice) {
      notice('Choose an agent first.', true);
      return;
    }
    const colon = choice.indexOf(':');
    resetView();
    const c = {
      kind: choice.slice(0, colon),
      agentId: choice.slice(colon + 1),
      business: $('business').value.trim(),
      ended: false,
      micTrack: tracker(vc.mic),
      agentTrack: tracker(vc.agent),
    };
    call = c;
    $('call').disabled = true;
    $('hangup').disabled = false;
    setStatus('microphone…');
    try {
      const processing = $('processing').checked;
      c.mic = await navigator.mediaDevices.getUserMedia({
        audio: {
          echoCancellation: processing,
          noiseSuppression: processing,
          autoGainControl: processing,
        },
        video: false,
      });
      c.ctx = new AudioContext();
      if (c.ctx.state === 'suspended') await c.ctx.resume().catch(() => {});
      c.micMeter = meter(c.ctx, c.mic);
      let url = '/whip/' + encodeURIComponent(c.agentId);
      const headers = { 'Content-Type': 'application/sdp' };
      let iceServers = fileIceServers;
      if (c.kind === 'api') {
        setStatus('web call…');
        const grant = await api(
          'POST',
          `/v1/businesses/${encodeURIComponent(c.business)}/voice-agents/${encodeURIComponent(c.agentId)}/web-call`,
        );
        const u = new URL(grant.whipUrl, location.href);
        url = u.pathname + u.search; // this page's own origin
        headers.Authorization = 'Bearer ' + grant.token;
        iceServers = grant.iceServers || [];
        c.callId = grant.callId;
        vc.callId = grant.callId;
      }
      c.pc = new RTCPeerConnection({ iceServers });
      c.pc.addTransceiver(c.mic.getAudioTracks()[0], { direction: 'sendrecv' });
      c.dc = c.pc.createDataChannel('vox-events');
      c.dc.onmessage = (m) => onEvent(m.data);
      c.pc.ontrack = (e) => {
        const stream = e.streams[0] || new MediaStream([e.track]);
        // Chrome hands a remote track to WebAudio only while an element plays it
        $('remote').srcObject = stream;
        c.agentMeter = meter(c.ctx, stream);
      };
      c.pc.onconnectionstatechange = () => {
        const s = c.pc.connectionState;
        if (s === 'connected') setStatus('in call', 'live');
        else if (s === 'failed') endCall('the connection failed', true);
      };
      c.timer = setInterval(() => sample(c), 10);
      c.statsTimer = setInterval(() => readStats(c).catch(() => {}), 1000);
      setStatus('connecting…');
      await c.pc.setLocalDescription(await c.pc.createOffer());
      await gathered(c.pc);
      if (c.ended) return;
      const res = await fetch(url, { method: 'POST', headers, body: c.pc.localDescription.sdp });
      if (res.status !== 201) {
        throw new Error(`the server refused the call (${res.status}): ${errorText(await bodyOf(res))}`);
      }
      c.location = res.headers.get('Location');
      await c.pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    } catch (e) {
      vc.error = String((e && e.message) || e);
      endCall('failed', true);
      notice(vc.error, true);
    }
  }

  async function endCall(reason, failed) {
    const c = call;
    if (!c || c.ended) return;
    c.ended = true;
    clearInterval(c.timer);
    clearInterval(c.statsTimer);
    for (const t of [c.micTrack, c.agentTrack]) {
      if (t.open) t.open.off = t.lastLoud;
      t.open = null;
    }
    if (reason === 'hung up' && c.location) {
      try {
        await fetch(c.location, { method: 'DELETE' });
      } catch (_) {
        // the call ends with the connection anyway
      }
    }
    if (c.dc) c.dc.close();
    if (c.pc) c.pc.close();
    if (c.mic) c.mic.getTracks().forEach((t) => t.stop());
    if (c.ctx) c.ctx.close().catch(() => {});
    $('remote').srcObject = null;
    $('call').disabled = false;
    $('hangup').disabled = true;
    $('mic-level').style.width = '0';
    $('agent-level').style.width = '0';
    setStatus(failed ? 'failed' : 'ended: ' + reason, failed ? 'failed' : '');
    showRecord(c);
  }

  // ---- the call's record

  function showRecord(c) {
    const box = $('record');
    box.replaceChildren();
    if (c.kind !== 'api' || !c.callId) {
      box.append(
        el(
          'p',
          'hint',
          'Calls to file agents keep no call record (agents made through the API do); ' +
            'the transcript above is the whole of it.',
        ),
      );
      return;
    }
    const path = `/v1/businesses/${encodeURIComponent(c.business)}/calls/${encodeURIComponent(c.callId)}`;
    const show = el('button', null, 'Show the call record');
    show.type = 'button';
    const pre = el('pre');
    const player = el('div');
    show.onclick = async () => {
      try {
        const record = await api('GET', path);
        pre.textContent = JSON.stringify(record, null, 2);
        player.replaceChildren();
        if (record.recordingUrl) player.append(recordingButton(path + '/recording'));
      } catch (e) {
        pre.textContent = String(e.message || e);
      }
    };
    box.append(el('p', 'hint', `GET ${path} (with the token above)`), show, player, pre);
  }

  function recordingButton(path) {
    const b = el('button', null, 'Play the recording');
    b.type = 'button';
    b.onclick = async () => {
      const res = await fetch(path, { headers: { Authorization: 'Bearer ' + $('token').value.trim() } });
      if (!res.ok) {
        b.replaceWith(el('span', 'notice error', `recording: ${res.status} ${errorText(await bodyOf(res))}`));
        return;
      }
      const audio = el('audio');
      audio.controls = true;
      audio.src = URL.createObjectURL(await res.blob());
      b.replaceWith(audio);
    };
    return b;
  }

  // ---- wiring

  document.addEventListener('DOMContentLoaded', async () => {
    $('call').addEventListener('click', startCall);
    $('hangup').addEventListener('click', () => endCall('hung up'));
    $('load').addEventListener('click', loadApiAgents);
    await loadFileAgents();
    if (params.get('autocall') === '1') startCall();
  });
})();
