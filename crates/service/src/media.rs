//! The Media protocol (`/media`): one websocket, any number of channels told apart by
//! their `channel` id, each one [`media::channel::Channel`] run by the media driver.
//!
//! Requests are handled one after the other, in order; each gets exactly one reply
//! (`<mt>Result`, with `error`/`errorText` when it failed). Channel news comes as events
//! (`ChannelState`, `ChannelStats`, `Dtmf`, `LocalCandidate`, `GatheringComplete`,
//! `ChannelLatched`, `ChannelError`), forwarded by one task per channel that also sends
//! the periodic statistics. Closing the websocket frees every channel it holds.
//! Messages and fields: `docs/protocol.md`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use media::channel::{Channel, ChannelConfig, ChannelState, ChannelStats, Event};
use media::driver::{self, ChannelHandle};
use media::rtp::Clock;
use protocol::media::{Direction, SessionDesc};
use protocol::media_protocol::{
    AddCandidate, AllocChannelExt, AudioSource, ChannelKind, Connect, DescType, MediaRequest,
    RemoteDesc, SendDtmf,
};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::Shared;
use crate::channel_audio::{Attached, ChannelAudio, Echo};
use crate::conn::{Conn, Outbox};
use crate::errors::{Code, Fault, frame_fault};

/// Every event `mt` this protocol sends (docs/protocol.md is checked against it).
pub const EVENTS: &[&str] = &[
    "ChannelState",
    "ChannelStats",
    "Dtmf",
    "LocalCandidate",
    "GatheringComplete",
    "ChannelLatched",
    "ChannelError",
];

/// Default statistics interval.
const STATS_DEFAULT_MS: u32 = 1000;
/// Shortest statistics interval (protects the connection from a flood).
const STATS_MIN_MS: u32 = 100;
/// Longest channel id accepted.
const MAX_ID: usize = 128;
/// STUN/TURN server URLs one `AllocChannel` may name, all `iceServers` entries together:
/// each one is resolved and asked for candidates. (Browsers offer a handful; more only
/// costs DNS queries and gathering time.)
pub const MAX_ICE_URLS: usize = 16;

struct Chan {
    handle: Arc<ChannelHandle>,
    forward: tokio::task::JoinHandle<()>,
    /// The channel's audio connection; dropped with the channel, which stops it.
    audio: Arc<dyn Attached>,
    /// Our offer is out and no answer came yet.
    awaiting_answer: bool,
}

struct Session {
    shared: Arc<Shared>,
    out: Outbox,
    channels: HashMap<String, Chan>,
    /// For ids the service makes when the app gives none.
    next_id: u64,
}

/// Serves one Media-protocol connection until the peer goes.
pub(crate) async fn run(mut conn: Conn, shared: Arc<Shared>) {
    let mut s = Session {
        shared,
        out: conn.out.clone(),
        channels: HashMap::new(),
        next_id: 1,
    };
    while let Some(text) = conn.inbound.recv().await {
        s.handle(&text).await;
    }
    let ids: Vec<String> = s.channels.keys().cloned().collect();
    for id in ids {
        s.free(&id).await;
    }
}

impl Session {
    async fn handle(&mut self, text: &str) {
        let req = match MediaRequest::parse(text) {
            Ok(r) => r,
            Err(e) => {
                self.out.send(frame_fault(text, &e));
                return;
            }
        };
        let mt = req.mt();
        let src = req.src().map(str::to_owned);
        let named = req.channel().map(str::to_owned);
        tracing::debug!(mt, channel = named.as_deref().unwrap_or(""), "request");
        match self.dispatch(req).await {
            Ok((channel, body)) => {
                let mut m = Map::new();
                m.insert("mt".into(), json!(format!("{mt}Result")));
                m.insert("channel".into(), json!(channel));
                if let Some(s) = src {
                    m.insert("src".into(), json!(s));
                }
                m.extend(body);
                self.out.send(Value::Object(m));
            }
            Err(f) => {
                tracing::debug!(mt, error = %f.text, "request refused");
                self.out
                    .send(f.reply(Some(mt), named.as_deref(), src.as_deref()));
            }
        }
    }

    fn chan(&mut self, id: &str) -> Result<&mut Chan, Fault> {
        self.channels.get_mut(id).ok_or_else(|| {
            Fault::new(
                Code::UnknownChannel,
                format!("no channel {id:?} on this connection"),
            )
        })
    }

    /// Runs one request; `Ok((channel id, reply fields))`.
    async fn dispatch(&mut self, req: MediaRequest) -> Result<(String, Map<String, Value>), Fault> {
        let mut body = Map::new();
        let id = match req {
            MediaRequest::AllocChannel(a) => {
                let (id, local, typ) = self.alloc(a).await?;
                body.insert("local".into(), local_json(&local, typ));
                id
            }
            MediaRequest::Connect(c) => {
                if let Some(answer) = self.connect(&c).await? {
                    body.insert("local".into(), local_json(&answer, DescType::Answer));
                }
                c.channel
            }
            MediaRequest::AddCandidate(a) => {
                self.add_candidate(&a).await?;
                a.channel
            }
            MediaRequest::Hold(h) => {
                let offer = self.hold(&h.channel, h.hold).await?;
                body.insert("local".into(), local_json(&offer, DescType::Offer));
                h.channel
            }
            MediaRequest::RestartIce(r) => {
                let chan = self.chan(&r.channel)?;
                let offer = chan
                    .handle
                    .restart_ice()
                    .await
                    .map_err(|e| Fault::media(&e))?;
                chan.awaiting_answer = true;
                body.insert("local".into(), local_json(&offer, DescType::Offer));
                r.channel
            }
            MediaRequest::Offer(r) => {
                let chan = self.chan(&r.channel)?;
                let offer = chan.handle.reoffer().await.map_err(|e| Fault::media(&e))?;
                chan.awaiting_answer = true;
                body.insert("local".into(), local_json(&offer, DescType::Offer));
                r.channel
            }
            MediaRequest::Volume(v) => {
                // 0–1 (the parser checked), so the f32 holds it as well as a gain needs.
                self.chan(&v.channel)?.audio.set_volume(v.volume as f32);
                body.insert("volume".into(), json!(v.volume));
                v.channel
            }
            MediaRequest::SendDtmf(d) => {
                let duration = check_dtmf(&d)?;
                // The channel queues the digits and paces them (RFC 4733 events with
                // gaps between them).
                self.chan(&d.channel)?
                    .handle
                    .send_dtmf(
                        &d.digits.to_ascii_uppercase(),
                        duration,
                        media::channel::DEFAULT_DTMF_GAP_MS,
                    )
                    .await
                    .map_err(|e| Fault::media(&e))?;
                d.channel
            }
            MediaRequest::Mute(m) => {
                // `silence`: the muted channel keeps sending, silence (docs/protocol.md).
                let silence = m.silence == Some(true);
                let handle = &self.chan(&m.channel)?.handle;
                handle
                    .set_muted(m.mute && !silence)
                    .and_then(|()| handle.set_silent(m.mute && silence))
                    .map_err(|e| Fault::media(&e))?;
                body.insert("mute".into(), json!(m.mute));
                m.channel
            }
            MediaRequest::Recording(r) => {
                self.chan(&r.channel)?
                    .handle
                    .set_recording(r.on)
                    .map_err(|e| Fault::media(&e))?;
                body.insert("on".into(), json!(r.on));
                r.channel
            }
            MediaRequest::SetDevices(d) => {
                self.chan(&d.channel)?
                    .audio
                    .set_devices(d.microphone.as_deref(), d.speaker.as_deref())
                    .map_err(|e| Fault::new(Code::Device, e.to_string()))?;
                if let Some(speaker) = d.speaker.as_deref() {
                    self.shared.ring_route.call_speaker_chosen(speaker);
                }
                d.channel
            }
            MediaRequest::GetStats(r) => {
                let chan = self.chan(&r.channel)?;
                let stats = chan.handle.stats().await.map_err(|e| Fault::media(&e))?;
                if let Value::Object(o) = stats_json(&stats, chan.audio.stats()) {
                    tracing::trace!(channel = %r.channel, stats = %serde_json::Value::Object(o.clone()), "GetStats");
                    body.extend(o);
                }
                r.channel
            }
            MediaRequest::FreeChannel(r) => {
                self.chan(&r.channel)?;
                self.free(&r.channel).await;
                r.channel
            }
        };
        Ok((id, body))
    }

    /// `AddCandidate`: a trickled remote candidate.
    async fn add_candidate(&mut self, a: &AddCandidate) -> Result<(), Fault> {
        let cand = protocol::sdp::parse_candidate(&a.candidate).map_err(|e| Fault {
            field: Some("candidate".into()),
            ..Fault::parse(&e.within("candidate"), true)
        })?;
        self.chan(&a.channel)?
            .handle
            .add_remote_candidate(cand)
            .await
            .map_err(|e| Fault::media(&e))
    }

    /// `Hold`: our direction and the new offer that tells the peer.
    async fn hold(&mut self, channel: &str, hold: bool) -> Result<SessionDesc, Fault> {
        let chan = self.chan(channel)?;
        let dir = if hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        chan.handle
            .set_direction(dir)
            .map_err(|e| Fault::media(&e))?;
        // The sendonly offer tells the peer; locally the far end is muted from here on
        // (and our microphone kept from it), as a phone on hold does.
        chan.audio.set_held(hold);
        let offer = chan
            .handle
            .create_offer()
            .await
            .map_err(|e| Fault::media(&e))?;
        chan.awaiting_answer = true;
        Ok(offer)
    }

    /// `Connect`: the peer's answer to our offer (`None`), or a new offer from the peer
    /// (`Some(our answer)`).
    async fn connect(&mut self, c: &Connect) -> Result<Option<SessionDesc>, Fault> {
        let remote = session_of(&c.remote)?;
        let chan = self.chan(&c.channel)?;
        match c.remote.typ {
            DescType::Answer => {
                if !chan.awaiting_answer {
                    return Err(Fault::new(
                        Code::Negotiation,
                        "an answer came but no offer of ours is outstanding",
                    ));
                }
                chan.handle
                    .apply_answer(remote)
                    .await
                    .map_err(|e| Fault::media(&e))?;
                chan.awaiting_answer = false;
            }
            DescType::Offer => {
                let answer = chan
                    .handle
                    .accept_offer(remote)
                    .await
                    .map_err(|e| Fault::media(&e))?;
                chan.awaiting_answer = false;
                return Ok(Some(answer));
            }
        }
        Ok(None)
    }

    async fn alloc(
        &mut self,
        a: AllocChannelExt,
    ) -> Result<(String, SessionDesc, DescType), Fault> {
        let Checked {
            id,
            stats_every,
            remote,
        } = self.check_alloc(&a)?;
        let cfg = &self.shared.config;
        let addrs = local_addrs(&self.shared)?;
        // A peer that muxes RTCP (or any ICE peer) needs no RTCP port; our own offers may
        // reach a plain-RTP device that sends RTCP to port+1 (RFC 3550 §11).
        let rtcp_pair = match &remote {
            Some(r) => r.media.first().is_some_and(|m| !m.rtcp_mux),
            None => true,
        };
        let sockets = {
            let mut alloc = self
                .shared
                .audio_ports
                .lock()
                .map_err(|_| Fault::new(Code::Internal, "port allocator poisoned"))?;
            media::ports::bind_channel(&mut alloc, &addrs, rtcp_pair)
                .map_err(|e| Fault::new(Code::NoPorts, e.to_string()))?
        };
        let ice_servers = media::driver::resolve_servers(&a.base.ice_servers).await;
        let has_servers = !ice_servers.servers.is_empty();
        let config = channel_config(cfg.media.settings.clone(), sockets.local, ice_servers)?;
        let channel = Channel::new(config, Instant::now()).map_err(|e| Fault::media(&e))?;
        // 300 blocks = 3 s each way: the audio side never waits on the driver.
        let (io, ends) = driver::audio_rings(300);
        let mut handle =
            driver::spawn(channel, sockets.sockets, io).map_err(|e| Fault::media(&e))?;
        let backend: &dyn ChannelAudio = match a.ext.audio {
            Some(AudioSource::Echo) => &Echo,
            Some(AudioSource::Devices) | None => &*self.shared.config.audio,
        };
        let attached: Arc<dyn Attached> = Arc::from(
            backend
                .attach(&id, ends)
                .map_err(|e| Fault::new(Code::Device, e.to_string()))?,
        );
        // Take the events; early ones (gathering) are replayed to the app after the reply.
        let (_, placeholder) = mpsc::unbounded_channel();
        let mut events = std::mem::replace(&mut handle.events, placeholder);
        let early = if has_servers {
            gathered(&mut events, cfg.media.gather_wait).await
        } else {
            Vec::new()
        };
        let handle = Arc::new(handle);
        let (local, typ) = match remote {
            Some(offer) => match handle.accept_offer(offer).await {
                Ok(answer) => (answer, DescType::Answer),
                Err(e) => {
                    close_handle(handle).await;
                    return Err(Fault::media(&e));
                }
            },
            None => match handle.create_offer().await {
                Ok(offer) => (offer, DescType::Offer),
                Err(e) => {
                    close_handle(handle).await;
                    return Err(Fault::media(&e));
                }
            },
        };
        let forward = tokio::spawn(forward(
            id.clone(),
            events,
            early,
            handle.clone(),
            attached.clone(),
            stats_every,
            self.out.clone(),
        ));
        self.channels.insert(
            id.clone(),
            Chan {
                handle,
                forward,
                audio: attached,
                awaiting_answer: typ == DescType::Offer,
            },
        );
        self.shared.channels.fetch_add(1, Ordering::SeqCst);
        self.shared.allocated.fetch_add(1, Ordering::SeqCst);
        tracing::info!(channel = %id, dn = a.base.dn.as_deref().unwrap_or(""), "channel allocated");
        Ok((id, local, typ))
    }

    /// The checks of an `AllocChannel` before anything is allocated: the channel's id
    /// (made when the app gave none), the statistics interval and the peer's offer.
    fn check_alloc(&mut self, a: &AllocChannelExt) -> Result<Checked, Fault> {
        let cfg = &self.shared.config;
        let id = match a.base.channel.clone() {
            Some(id) if id.is_empty() || id.len() > MAX_ID => {
                return Err(field_fault("channel", "must be 1-128 characters"));
            }
            Some(id) => id,
            None => loop {
                let id = format!("ch{}", self.next_id);
                self.next_id += 1;
                if !self.channels.contains_key(&id) {
                    break id;
                }
            },
        };
        if self.channels.contains_key(&id) {
            return Err(Fault::new(
                Code::ChannelExists,
                format!("channel {id:?} exists on this connection"),
            ));
        }
        if self.channels.len() >= cfg.max_channels {
            return Err(Fault::new(
                Code::ChannelLimit,
                format!(
                    "this connection holds {} channels, the most it may",
                    cfg.max_channels
                ),
            ));
        }
        if a.base.kind == ChannelKind::Video {
            return Err(field_fault(
                "kind",
                "video channels (app sharing) are not implemented yet; use audio",
            ));
        }
        let stats_ms = a.ext.stats_interval.unwrap_or(STATS_DEFAULT_MS);
        let stats_every =
            (stats_ms != 0).then(|| Duration::from_millis(u64::from(stats_ms.max(STATS_MIN_MS))));
        let remote = a.ext.remote.as_ref().map(session_of).transpose()?;
        if a.ext
            .remote
            .as_ref()
            .is_some_and(|r| r.typ != DescType::Offer)
        {
            return Err(field_fault(
                "remote.type",
                "AllocChannel takes the peer's offer; answers go in Connect",
            ));
        }

        let urls: usize = a.base.ice_servers.iter().map(|s| s.urls.len()).sum();
        if urls > MAX_ICE_URLS {
            return Err(field_fault(
                "iceServers",
                &format!("{urls} server URLs; at most {MAX_ICE_URLS} are taken"),
            ));
        }
        Ok(Checked {
            id,
            stats_every,
            remote,
        })
    }

    async fn free(&mut self, id: &str) {
        let Some(chan) = self.channels.remove(id) else {
            return;
        };
        chan.forward.abort();
        let _ = chan.forward.await;
        close_handle(chan.handle).await;
        self.shared.channels.fetch_sub(1, Ordering::SeqCst);
        tracing::info!(channel = %id, "channel freed");
    }
}

/// The checks of a `SendDtmf` (RFC 4733 events: 1-64 digits of 0-9, *, #, A-D); the
/// duration of each digit in ms.
fn check_dtmf(d: &SendDtmf) -> Result<u32, Fault> {
    let duration = d.duration.unwrap_or(100);
    if !(40..=5000).contains(&duration) {
        return Err(field_fault("duration", "must be 40-5000 ms"));
    }
    if d.digits.is_empty() || d.digits.chars().count() > 64 {
        return Err(field_fault("digits", "give 1-64 digits"));
    }
    if let Some(bad) = d
        .digits
        .chars()
        .find(|c| !matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d'))
    {
        return Err(field_fault(
            "digits",
            &format!("{bad:?} is not a DTMF digit (0-9, *, #, A-D)"),
        ));
    }
    Ok(duration)
}

/// What [`Session::check_alloc`] found.
struct Checked {
    id: String,
    stats_every: Option<Duration>,
    remote: Option<SessionDesc>,
}

/// A new channel's configuration: fresh random SSRC, sequence, timestamp and CNAME, a
/// DTLS certificate when DTLS may be used.
fn channel_config(
    settings: media::negotiate::Settings,
    sockets: Vec<media::channel::LocalSocket>,
    ice_servers: media::gather::IceServers,
) -> Result<ChannelConfig, Fault> {
    let certificate = if settings.dtls {
        Some(
            media::dtls::Certificate::generate()
                .map_err(|e| Fault::new(Code::Internal, format!("DTLS certificate: {e}")))?,
        )
    } else {
        None
    };
    Ok(ChannelConfig {
        settings,
        sockets,
        // Every random value of the channel, the RTCP CNAME (RFC 7022) included, comes
        // from this seed: nothing about the service or its secret reaches a peer.
        seed: media::seed::Seed::random(),
        ssrc: rand::random(),
        first_seq: rand::random(),
        first_timestamp: rand::random(),
        clock: Clock::new(Instant::now(), SystemTime::now()),
        opus: codecs::opus::Settings::default_for(codecs::CodecKind::OpusWb),
        jitter: jitter::Config::default(),
        certificate,
        ice: media::ice::IceConfig::default(),
        ice_servers,
    })
}

/// The channel's first events, while its STUN/TURN servers answer (at most `wait`): they
/// are replayed to the app after the `AllocChannel` reply.
async fn gathered(events: &mut mpsc::UnboundedReceiver<Event>, wait: Duration) -> Vec<Event> {
    let mut early = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.recv()).await {
        let done = ev == Event::GatheringComplete;
        early.push(ev);
        if done {
            break;
        }
    }
    early
}

/// Closes a channel task (its sockets, and so its ports, go with it).
async fn close_handle(handle: Arc<ChannelHandle>) {
    match Arc::try_unwrap(handle) {
        Ok(h) => h.close().await,
        // Only the forwarding task shares the handle and it has ended; should another
        // holder exist, dropping ours still ends the task once it goes.
        Err(h) => tracing::error!(
            holders = Arc::strong_count(&h),
            "channel still shared at close"
        ),
    }
}

fn field_fault(field: &str, text: &str) -> Fault {
    Fault {
        field: Some(field.into()),
        ..Fault::new(Code::BadField, format!("{field}: {text}"))
    }
}

fn session_of(r: &RemoteDesc) -> Result<SessionDesc, Fault> {
    r.session()
        .map_err(|e| Fault::parse(&e.within("remote"), true))
}

fn local_addrs(shared: &Shared) -> Result<Vec<IpAddr>, Fault> {
    if let Some(a) = &shared.config.media.addresses {
        return Ok(a.clone());
    }
    let ifaces = media::interfaces::usable(&shared.config.media.filter)
        .map_err(|e| Fault::new(Code::NoPorts, format!("cannot list interfaces: {e}")))?;
    let addrs: Vec<IpAddr> = ifaces.iter().map(|i| i.addr).collect();
    if addrs.is_empty() {
        return Err(Fault::new(
            Code::NoPorts,
            "no usable network interface (all excluded, VPN or down)",
        ));
    }
    Ok(addrs)
}

/// Our description in both encodings.
fn local_json(desc: &SessionDesc, typ: DescType) -> Value {
    json!({
        "type": typ,
        "sdp": protocol::sdp::to_sdp_string(desc),
        "channels": protocol::channels::to_channels_value(desc),
    })
}

fn state_name(s: ChannelState) -> &'static str {
    match s {
        ChannelState::New => "new",
        ChannelState::Connecting => "connecting",
        ChannelState::Connected => "connected",
        ChannelState::Failed => "failed",
        ChannelState::Closed => "closed",
    }
}

fn event_json(channel: &str, ev: &Event) -> Vec<Value> {
    match ev {
        Event::State(s) => {
            vec![json!({"mt":"ChannelState","channel":channel,"state":state_name(*s)})]
        }
        Event::Dtmf { digit, duration_ms } => vec![json!({
            "mt":"Dtmf","channel":channel,"digit":digit.to_string(),"duration":duration_ms
        })],
        Event::Latched { rtp } => {
            vec![json!({"mt":"ChannelLatched","channel":channel,"rtp":rtp.to_string()})]
        }
        Event::LocalCandidate(c) => protocol::sdp::candidate_strings(c)
            .into_iter()
            .map(|line| json!({"mt":"LocalCandidate","channel":channel,"candidate":line}))
            .collect(),
        Event::GatheringComplete => vec![json!({"mt":"GatheringComplete","channel":channel})],
        Event::Error { fault, text } => vec![json!({
            "mt":"ChannelError","channel":channel,"error":fault.code(),"errorText":text
        })],
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn stats_json(s: &ChannelStats, audio: Value) -> Value {
    let mut v = json!({
        "packetsSent": s.packets_sent,
        "octetsSent": s.octets_sent,
        "packetsReceived": s.received.packets,
        "packetsLost": s.received.lost,
        "jitter": (s.received.jitter_ms * 10.0).round() / 10.0,
        "roundTrip": s.rtt_ms.map(|r| (r * 10.0).round() / 10.0),
        "remoteLoss": s.remote_fraction_lost,
        "blocksPlayed": s.blocks_played,
        "dtmfReceived": s.dtmf_received,
        "wrongPt": s.wrong_pt,
        "uncheckedSource": s.unchecked_source,
        "recordingDropped": s.recording_dropped,
        "garbage": s.garbage,
        "audio": audio,
    });
    if let Some(j) = &s.jitter {
        v["buffer"] = json!({
            "delay": ms(j.delay), "targetDelay": ms(j.target_delay),
            "late": j.late, "lost": j.lost, "recovered": j.recovered,
            "concealed": ms(j.concealed),
        });
    }
    if let Some(x) = &s.srtp {
        v["srtp"] = json!({
            "authFailed": x.auth_failed, "replayed": x.replayed, "malformed": x.malformed,
        });
    }
    if let Some(i) = &s.ice {
        v["ice"] = json!(format!("{i:?}").to_ascii_lowercase());
    }
    if let Some((l, r)) = &s.path {
        v["path"] = json!({"local": l.to_string(), "remote": r.to_string()});
    }
    v
}

/// Forwards a channel's events and sends its statistics every `every`.
async fn forward(
    id: String,
    mut events: mpsc::UnboundedReceiver<Event>,
    early: Vec<Event>,
    handle: Arc<ChannelHandle>,
    audio: Arc<dyn Attached>,
    every: Option<Duration>,
    out: Outbox,
) {
    for ev in &early {
        for v in event_json(&id, ev) {
            out.send(v);
        }
    }
    let mut tick = every.map(|d| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => for v in event_json(&id, &ev) { out.send(v) },
                None => return,
            },
            _ = async { match tick.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending().await } } => {
                if let Ok(s) = handle.stats().await {
                    let mut m = Map::new();
                    m.insert("mt".into(), json!("ChannelStats"));
                    m.insert("channel".into(), json!(id));
                    if let Value::Object(o) = stats_json(&s, audio.stats()) {
                        m.extend(o);
                    }
                    out.send(Value::Object(m));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::media::{Candidate, CandidateType, ComponentPort};

    #[test]
    fn every_event_has_a_documented_name() {
        let cand = Candidate {
            foundation: "1".into(),
            transport: "udp".into(),
            addr: "192.0.2.1".into(),
            typ: CandidateType::Relay,
            rtp: Some(ComponentPort {
                port: 5000,
                priority: 1,
            }),
            rtcp: None,
            related_addr: None,
            related_rtp: None,
            related_rtcp: None,
            tcptype: None,
            extensions: vec![],
        };
        let events = [
            Event::State(ChannelState::Connected),
            Event::Dtmf {
                digit: '5',
                duration_ms: 100,
            },
            Event::Latched {
                rtp: "192.0.2.1:4000".parse().unwrap(),
            },
            Event::LocalCandidate(cand),
            Event::GatheringComplete,
            Event::Error {
                fault: ::media::Fault::IceFailed,
                text: "x".into(),
            },
        ];
        for ev in &events {
            for v in event_json("a", ev) {
                let mt = v["mt"].as_str().unwrap();
                assert!(EVENTS.contains(&mt), "{mt} missing from EVENTS");
                assert_eq!(v["channel"], "a");
            }
        }
        let v = stats_json(&ChannelStats::default(), json!({}));
        assert!(v["packetsReceived"].is_number());
    }
}
