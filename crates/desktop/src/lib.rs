//! OS services of the myApps desktop app, behind traits, without a window: the settings
//! store ([`settings`]), the PBX address rules ([`server`]), the `tel:`/`sip:`/`im:` link
//! parser ([`uri`]), single instance ([`instance`]), desktop notifications ([`notify`])
//! and the user's idle time ([`idle`]). The tao/wry shell, tray and hot keys build on
//! these (issue 6).

pub mod idle;
pub mod instance;
pub mod notify;
pub mod server;
pub mod settings;
pub mod uri;
