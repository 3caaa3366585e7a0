//! OS services of the myApps desktop app, behind traits, without a window: the settings
//! store ([`settings`]), the PBX address rules ([`server`]) and the `tel:`/`sip:`/`im:`
//! link parser ([`uri`]). The tao/wry
//! shell, tray, hot keys and notifications build on these (issue 6).

pub mod instance;
pub mod server;
pub mod settings;
pub mod uri;
