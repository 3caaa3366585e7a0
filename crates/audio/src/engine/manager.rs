//! The device manager thread: opens, switches, watches and closes the streams (module
//! docs of [`super`], "Threads").

use super::*;

pub(super) enum Request {
    SetDevices {
        microphone: Option<Option<String>>,
        speaker: Option<Option<String>>,
        reply: Sender<Result<(), AudioError>>,
    },
    LegsChanged,
    Device(DeviceEvent),
    Stop,
}

/// An open stream as the manager keeps it.
pub(super) struct Open {
    pub(super) stream: cpal::Stream,
    /// cpal's id of the device (`pulseaudio:test_sink`).
    pub(super) id: String,
    pub(super) health: Arc<Health>,
    /// Watchdog: the callback count last seen and when it last changed.
    pub(super) seen: u64,
    pub(super) seen_at: Instant,
}

pub(super) struct Manager {
    pub(super) wanted_mic: Option<String>,
    pub(super) wanted_speaker: Option<String>,
    pub(super) watch_interval: Duration,
    pub(super) input: Option<Open>,
    pub(super) output: Option<Open>,
    /// Replaced streams playing out their buffers, closed at the instant given.
    pub(super) retiring: Vec<(Instant, cpal::Stream)>,
    pub(super) watcher: Option<DeviceWatcher>,
    pub(super) retry_at: Option<Instant>,
    pub(super) shared: Arc<Shared>,
    pub(super) commands: Sender<Command>,
    pub(super) requests: Sender<Request>,
}

impl Manager {
    pub(super) fn run(mut self, requests: Receiver<Request>) {
        loop {
            match requests.recv_timeout(HEALTH_POLL) {
                Ok(Request::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Request::SetDevices {
                    microphone,
                    speaker,
                    reply,
                }) => {
                    let r = self.set_devices(microphone, speaker);
                    let _ = reply.send(r);
                }
                Ok(Request::LegsChanged) => self.legs_changed(),
                Ok(Request::Device(event)) => self.device_event(event),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.check_health();
            let now = Instant::now();
            // Dropping a cpal stream closes it (and joins its threads): here, never on
            // the processing thread.
            self.retiring.retain(|(at, _)| *at > now);
        }
        self.close_all();
    }

    pub(super) fn active(&self) -> bool {
        self.shared.legs.load(Ordering::Relaxed) > 0
    }

    pub(super) fn legs_changed(&mut self) {
        if self.active() {
            if self.input.is_none() || self.output.is_none() {
                self.open_missing("call started");
            }
            if self.watcher.is_none() {
                let tx = self.requests.clone();
                self.watcher = Some(DeviceWatcher::start(self.watch_interval, move |e| {
                    let _ = tx.send(Request::Device(e));
                }));
            }
        } else if self.input.is_some() || self.output.is_some() {
            self.close_all();
        }
    }

    pub(super) fn close_all(&mut self) {
        let _ = self.commands.send(Command::Input(None));
        let _ = self.commands.send(Command::Output(None));
        self.watcher = None;
        self.retry_at = None;
        if let Some(o) = self.output.take() {
            self.retire_output_health(&o);
        }
        self.input = None;
        self.retiring.clear();
        self.set_in_use(|u| {
            u.microphone = None;
            u.speaker = None;
        });
    }

    pub(super) fn set_in_use(&self, f: impl FnOnce(&mut InUse)) {
        match self.shared.in_use.lock() {
            Ok(mut g) => f(&mut g),
            Err(e) => f(&mut e.into_inner()),
        }
    }

    pub(super) fn retire_output_health(&self, old: &Open) {
        let n = old.health.xruns.load(Ordering::Relaxed);
        let startup = old.health.startup.load(Ordering::Relaxed);
        self.set_in_use(|u| {
            u.old_speaker_underruns += n;
            u.old_speaker_startup += startup;
        });
    }

    /// Opens whatever is not open: the chosen device, else the default one.
    pub(super) fn open_missing(&mut self, why: &str) {
        if self.input.is_none() {
            let wanted = self.wanted_mic.clone();
            if let Some((o, side)) =
                open_with_fallback(DeviceKind::Microphone, wanted.as_deref(), None)
            {
                self.install_input(o, side, why);
            }
        }
        if self.output.is_none() {
            let wanted = self.wanted_speaker.clone();
            if let Some((o, side)) =
                open_with_fallback(DeviceKind::Speaker, wanted.as_deref(), None)
            {
                self.install_output(o, side, why);
            }
        }
        self.retry_at =
            (self.input.is_none() || self.output.is_none()).then(|| Instant::now() + RETRY);
    }

    pub(super) fn install_input(&mut self, open: Open, side: InputSide, why: &str) {
        let _ = self.commands.send(Command::Input(Some(side)));
        let id = open.id.clone();
        if let Some(old) = self.input.replace(open) {
            self.retiring
                .push((Instant::now() + RETIRE_AFTER, old.stream));
        }
        self.shared.switches.fetch_add(1, Ordering::Relaxed);
        let why = format!("microphone {id}: {why}");
        self.set_in_use(|u| {
            u.microphone = Some(id);
            u.last_switch = Some(why);
        });
    }

    pub(super) fn install_output(&mut self, open: Open, side: OutputSide, why: &str) {
        let _ = self.commands.send(Command::Output(Some(side)));
        let id = open.id.clone();
        let health = open.health.clone();
        if let Some(old) = self.output.replace(open) {
            self.retire_output_health(&old);
            self.retiring
                .push((Instant::now() + RETIRE_AFTER, old.stream));
        }
        if let Ok(mut h) = self.shared.output_health.lock() {
            *h = Some(health);
        }
        self.shared.switches.fetch_add(1, Ordering::Relaxed);
        let why = format!("speaker {id}: {why}");
        self.set_in_use(|u| {
            u.speaker = Some(id);
            u.last_switch = Some(why);
        });
    }

    pub(super) fn set_devices(
        &mut self,
        microphone: Option<Option<String>>,
        speaker: Option<Option<String>>,
    ) -> Result<(), AudioError> {
        if !self.active() {
            // Only check that they exist; they open with the next call.
            let host = crate::host();
            if let Some(m) = &microphone {
                devices::find(&host, m.as_deref(), DeviceKind::Microphone)?;
            }
            if let Some(s) = &speaker {
                devices::find(&host, s.as_deref(), DeviceKind::Speaker)?;
            }
            if let Some(m) = microphone {
                self.wanted_mic = m;
            }
            if let Some(s) = speaker {
                self.wanted_speaker = s;
            }
            return Ok(());
        }
        // Open both first, so a failure of either changes nothing.
        let mic = match &microphone {
            Some(m) => Some(open_input(m.as_deref())?),
            None => None,
        };
        let spk = match &speaker {
            Some(s) => Some(open_output(s.as_deref())?),
            None => None,
        };
        if let (Some(m), Some((o, side))) = (microphone, mic) {
            self.wanted_mic = m;
            self.install_input(o, side, "chosen");
        }
        if let (Some(s), Some((o, side))) = (speaker, spk) {
            self.wanted_speaker = s;
            self.install_output(o, side, "chosen");
        }
        Ok(())
    }

    pub(super) fn device_event(&mut self, event: DeviceEvent) {
        if !self.active() {
            return;
        }
        match event {
            DeviceEvent::Removed(info) => {
                let in_use = match info.kind {
                    DeviceKind::Microphone => self.input.as_ref(),
                    DeviceKind::Speaker => self.output.as_ref(),
                };
                if in_use.is_some_and(|o| o.id == info.id) {
                    self.reopen(info.kind, Some(&info.id), "device removed");
                }
            }
            DeviceEvent::Added(info) => {
                // The chosen device is back: return to it.
                let (wanted, in_use) = match info.kind {
                    DeviceKind::Microphone => (&self.wanted_mic, self.input.as_ref()),
                    DeviceKind::Speaker => (&self.wanted_speaker, self.output.as_ref()),
                };
                if wanted.as_deref() == Some(info.id.as_str())
                    && in_use.is_none_or(|o| o.id != info.id)
                {
                    self.reopen(info.kind, None, "chosen device is back");
                }
            }
        }
    }

    /// Opens `kind` again: the chosen device unless it is `gone`, else the default.
    pub(super) fn reopen(&mut self, kind: DeviceKind, gone: Option<&str>, why: &str) {
        match kind {
            DeviceKind::Microphone => {
                let wanted = self.wanted_mic.clone();
                if let Some((o, side)) = open_with_fallback(kind, wanted.as_deref(), gone) {
                    self.install_input(o, side, why);
                } else {
                    let _ = self.commands.send(Command::Input(None));
                    self.input = None;
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
            DeviceKind::Speaker => {
                let wanted = self.wanted_speaker.clone();
                if let Some((o, side)) = open_with_fallback(kind, wanted.as_deref(), gone) {
                    self.install_output(o, side, why);
                } else {
                    let _ = self.commands.send(Command::Output(None));
                    if let Some(old) = self.output.take() {
                        self.retire_output_health(&old);
                    }
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
        }
    }

    pub(super) fn check_health(&mut self) {
        if !self.active() {
            return;
        }
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| t <= now) {
            self.open_missing("device available again");
        }
        for kind in [DeviceKind::Microphone, DeviceKind::Speaker] {
            let open = match kind {
                DeviceKind::Microphone => self.input.as_mut(),
                DeviceKind::Speaker => self.output.as_mut(),
            };
            let Some(open) = open else { continue };
            let count = open.health.callbacks.load(Ordering::Relaxed);
            if count != open.seen {
                open.seen = count;
                open.seen_at = now;
            }
            let verdict = match open.health.failed.load(Ordering::Relaxed) {
                GONE => Some((true, "device not available")),
                FAILED => Some((false, "stream error")),
                _ if now - open.seen_at > WATCHDOG => Some((false, "stream stopped")),
                _ => None,
            };
            if let Some((gone, why)) = verdict {
                let id = open.id.clone();
                self.reopen(kind, gone.then_some(id.as_str()), why);
            }
        }
    }
}

/// Opens the `wanted` device (unless it is `gone`), else the default one; `None` when
/// neither opens.
pub(super) fn open_with_fallback<S>(
    kind: DeviceKind,
    wanted: Option<&str>,
    gone: Option<&str>,
) -> Option<(Open, S)>
where
    S: OpenSide,
{
    let mut tries: Vec<Option<&str>> = Vec::with_capacity(2);
    if let Some(w) = wanted
        && Some(w) != gone
    {
        tries.push(Some(w));
    }
    tries.push(None);
    for t in tries {
        match S::open(t) {
            // The default may still be the device that went away (the server updates it
            // a moment later): skip it then.
            Ok((o, _)) if t.is_none() && Some(o.id.as_str()) == gone => {}
            Ok(pair) => return Some(pair),
            Err(e) => {
                tracing::warn!("cannot open {kind} {}: {e}", t.unwrap_or("(default)"));
            }
        }
    }
    None
}

pub(super) trait OpenSide: Sized {
    fn open(id: Option<&str>) -> Result<(Open, Self), AudioError>;
}

impl OpenSide for InputSide {
    fn open(id: Option<&str>) -> Result<(Open, Self), AudioError> {
        open_input(id)
    }
}

impl OpenSide for OutputSide {
    fn open(id: Option<&str>) -> Result<(Open, Self), AudioError> {
        open_output(id)
    }
}

pub(super) fn device_name(device: &cpal::Device, fallback: Option<&str>) -> String {
    device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| fallback.unwrap_or("default device").to_owned())
}

/// Opens the speaker `id` (`None`: the default one) as a call would and closes it again;
/// gives the device's id. Listing devices is not enough to know that sound can be
/// played: ALSA lists a `default` device whose plugin has no server behind it.
pub fn probe_speaker(id: Option<&str>) -> Result<String, AudioError> {
    open_output(id).map(|(open, _)| open.id)
}

pub(super) fn open_input(id: Option<&str>) -> Result<(Open, InputSide), AudioError> {
    let host = crate::host();
    let device = devices::find(&host, id, DeviceKind::Microphone)?;
    let name = device_name(&device, id);
    let unsupported = |why: String| AudioError::Unsupported {
        device: name.clone(),
        why,
    };
    let default = device
        .default_input_config()
        .map_err(|e| unsupported(e.to_string()))?;
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map_err(|e| unsupported(e.to_string()))?
        .collect();
    // Mono when offered: the server downmixes better than we would.
    let (config, format) = choose_config(&ranges, &default, 1).map_err(unsupported)?;
    let rate = config.sample_rate;
    let health = Arc::new(Health::default());
    // One second at the device's rate: the processing thread empties it every 10 ms.
    let (producer, consumer) = rtrb::RingBuffer::new(rate as usize);
    let stream = match format {
        SampleFormat::I16 => build_input::<i16>(&device, config, producer, health.clone()),
        SampleFormat::F32 => build_input::<f32>(&device, config, producer, health.clone()),
        SampleFormat::I32 => build_input::<i32>(&device, config, producer, health.clone()),
        SampleFormat::I24 => build_input::<cpal::I24>(&device, config, producer, health.clone()),
        SampleFormat::U16 => build_input::<u16>(&device, config, producer, health.clone()),
        SampleFormat::F64 => build_input::<f64>(&device, config, producer, health.clone()),
        SampleFormat::U8 => build_input::<u8>(&device, config, producer, health.clone()),
        // `choose_config` only returns formats from `FORMATS`.
        _ => build_input::<i8>(&device, config, producer, health.clone()),
    }
    .and_then(|s| s.play().map(|()| s))
    .map_err(|source| AudioError::Stream {
        device: name.clone(),
        source,
    })?;
    let id = device
        .id()
        .map(|i| i.to_string())
        .unwrap_or_else(|_| name.clone());
    Ok((
        Open {
            stream,
            id,
            health,
            seen: 0,
            seen_at: Instant::now(),
        },
        InputSide {
            ring: consumer,
            conv: Cubic::new(rate, RATE),
            fifo: Fifo::new(BACKLOG + 2 * BLOCK),
        },
    ))
}

pub(super) fn open_output(id: Option<&str>) -> Result<(Open, OutputSide), AudioError> {
    let host = crate::host();
    let device = devices::find(&host, id, DeviceKind::Speaker)?;
    let name = device_name(&device, id);
    let unsupported = |why: String| AudioError::Unsupported {
        device: name.clone(),
        why,
    };
    let default = device
        .default_output_config()
        .map_err(|e| unsupported(e.to_string()))?;
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| unsupported(e.to_string()))?
        .collect();
    // The device's own channel count: we copy the mono block into every channel, where
    // the server's upmix would apply a gain of its choosing.
    let (config, format) =
        choose_config(&ranges, &default, default.channels()).map_err(unsupported)?;
    let rate = config.sample_rate;
    let health = Arc::new(Health::default());
    let (mut producer, consumer) = rtrb::RingBuffer::new(rate as usize / 5);
    let prefill = OUTPUT_PREFILL * rate as usize / RATE as usize;
    for _ in 0..prefill {
        let _ = producer.push(0);
    }
    let stream = match format {
        SampleFormat::I16 => build_output::<i16>(&device, config, consumer, health.clone()),
        SampleFormat::F32 => build_output::<f32>(&device, config, consumer, health.clone()),
        SampleFormat::I32 => build_output::<i32>(&device, config, consumer, health.clone()),
        SampleFormat::I24 => build_output::<cpal::I24>(&device, config, consumer, health.clone()),
        SampleFormat::U16 => build_output::<u16>(&device, config, consumer, health.clone()),
        SampleFormat::F64 => build_output::<f64>(&device, config, consumer, health.clone()),
        SampleFormat::U8 => build_output::<u8>(&device, config, consumer, health.clone()),
        // `choose_config` only returns formats from `FORMATS`.
        _ => build_output::<i8>(&device, config, consumer, health.clone()),
    }
    .and_then(|s| s.play().map(|()| s))
    .map_err(|source| AudioError::Stream {
        device: name.clone(),
        source,
    })?;
    let id = device
        .id()
        .map(|i| i.to_string())
        .unwrap_or_else(|_| name.clone());
    Ok((
        Open {
            stream,
            id,
            health: health.clone(),
            seen: 0,
            seen_at: Instant::now(),
        },
        OutputSide {
            ring: producer,
            conv: Cubic::new(RATE, rate),
            floor: Floor::default(),
            health,
            xruns_seen: 0,
            puts: 0,
        },
    ))
}

/// 48 kHz with `channels` channels if offered (else the fewest), in the best format; else
/// the device's default configuration (converted on the processing thread). `Err` says
/// what was missing.
pub(super) fn choose_config(
    ranges: &[cpal::SupportedStreamConfigRange],
    default: &cpal::SupportedStreamConfig,
    channels: u16,
) -> Result<(StreamConfig, SampleFormat), String> {
    let rank = |f: SampleFormat| FORMATS.iter().position(|&g| g == f);
    let best = ranges
        .iter()
        .filter(|r| r.channels() > 0 && rank(r.sample_format()).is_some())
        .filter(|r| (r.min_sample_rate()..=r.max_sample_rate()).contains(&RATE))
        .min_by_key(|r| {
            (
                r.channels() != channels,
                r.channels(),
                rank(r.sample_format()),
            )
        });
    let supported = match best {
        Some(range) => range.with_sample_rate(RATE),
        None => {
            if default.channels() == 0 || rank(default.sample_format()).is_none() {
                return Err(format!(
                    "{} channels of {} samples",
                    default.channels(),
                    default.sample_format()
                ));
            }
            *default
        }
    };
    let format = supported.sample_format();
    let mut config = supported.config();
    let frames = DEVICE_FRAMES * config.sample_rate / RATE;
    if let SupportedBufferSize::Range { min, max } = supported.buffer_size()
        && (*min..=*max).contains(&frames)
    {
        config.buffer_size = cpal::BufferSize::Fixed(frames);
    }
    Ok((config, format))
}

pub(super) fn build_input<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut ring: rtrb::Producer<i16>,
    health: Arc<Health>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    // `choose_config` never picks 0 channels.
    let channels = usize::from(config.channels.max(1));
    let scale = 1.0 / channels as f32;
    let errors = health.clone();
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            let frames = data.len() / channels;
            let n = frames.min(ring.slots());
            if let Ok(chunk) = ring.write_chunk_uninit(n) {
                chunk.fill_from_iter(data.chunks_exact(channels).map(|frame| {
                    let sum: f32 = frame.iter().map(|&s| s.to_sample::<f32>()).sum();
                    (sum * scale).to_sample::<i16>()
                }));
            }
            if n < frames {
                health
                    .xruns
                    .fetch_add((frames - n) as u64, Ordering::Relaxed);
            }
            health.callbacks.fetch_add(1, Ordering::Relaxed);
        },
        move |e: cpal::Error| errors.on_error(&e),
        None,
    )
}

pub(super) fn build_output<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut ring: rtrb::Consumer<i16>,
    health: Arc<Health>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<i16>,
{
    let channels = usize::from(config.channels.max(1));
    let errors = health.clone();
    // Silence before the first audio is the stream's start, not a gap (see
    // `EngineStats::speaker_startup_frames`).
    let mut playing = false;
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
            let (mut missing, mut before) = (0u64, 0u64);
            for frame in out.chunks_mut(channels) {
                let s = match ring.pop() {
                    Ok(s) => {
                        playing = true;
                        s
                    }
                    Err(_) if playing => {
                        missing += 1;
                        0
                    }
                    Err(_) => {
                        before += 1;
                        0
                    }
                };
                frame.fill(T::from_sample(s));
            }
            if missing > 0 {
                health.xruns.fetch_add(missing, Ordering::Relaxed);
            }
            if before > 0 {
                health.startup.fetch_add(before, Ordering::Relaxed);
            }
            health.callbacks.fetch_add(1, Ordering::Relaxed);
        },
        move |e: cpal::Error| errors.on_error(&e),
        None,
    )
}
