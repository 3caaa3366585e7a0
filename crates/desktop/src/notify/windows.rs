//! Windows toast notifications (WinRT `Windows.UI.Notifications`).
//!
//! A toast is shown under an AppUserModelID ([`super::WINDOWS_APP_ID`] unless
//! configured): an unpackaged app's toasts appear only when a Start-menu shortcut carries
//! that id (the installer creates it). Buttons are `<action>`s whose `arguments` are the
//! button key; a reply field is an `<input type="text">` with a send button. The toast's
//! `Activated` event (in-process, while the app runs) reports the click, `Dismissed` a
//! close. Incoming calls use the `incomingCall` scenario (stays on screen until handled,
//! wiki "Microsoft Windows Notifications"), missed calls the `reminder` scenario (stays
//! until the user returns). Toasts carry `Tag` = our id, so they can be removed from the
//! action center too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use windows::Data::Xml::Dom::XmlDocument;
use windows::Foundation::TypedEventHandler;
use windows::UI::Notifications::{
    ToastActivatedEventArgs, ToastDismissalReason, ToastDismissedEventArgs, ToastNotification,
    ToastNotificationManager, ToastNotifier,
};
use windows::core::{HSTRING, IInspectable, Interface};

use super::{Error, Event, Handler, Kind, Note, Notifier, Options};

/// The toast group of all our toasts (History.Remove needs tag and group).
const GROUP: &str = "myapps";
/// The input id of the reply field.
const REPLY_INPUT: &str = "replyText";
/// The argument of the reply's send button.
const REPLY_ARG: &str = "reply";
/// The launch argument of the toast body.
const DEFAULT_ARG: &str = "default";

pub(super) struct Toasts {
    notifier: ToastNotifier,
    app_id: String,
    handler: Handler,
    shown: Arc<Mutex<HashMap<String, ToastNotification>>>,
}

fn failed(what: &str, e: windows::core::Error) -> Error {
    Error::Failed(format!("{what}: {e}"))
}

impl Toasts {
    pub(super) fn open(options: &Options, handler: Handler) -> Result<Self, Error> {
        let app_id = options
            .app_id
            .clone()
            .unwrap_or_else(|| super::WINDOWS_APP_ID.to_owned());
        let notifier =
            ToastNotificationManager::CreateToastNotifierWithId(&HSTRING::from(app_id.as_str()))
                .map_err(|e| Error::Unavailable(format!("no toast notifier for {app_id}: {e}")))?;
        Ok(Toasts {
            notifier,
            app_id,
            handler,
            shown: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

/// XML text and attribute escaping.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// The toast XML (adaptive toast schema) for `note`.
fn toast_xml(note: &Note) -> String {
    let scenario = match note.kind {
        Kind::IncomingCall => " scenario=\"incomingCall\"",
        Kind::MissedCall => " scenario=\"reminder\"",
        Kind::Chat | Kind::Default => "",
    };
    let mut x = format!(
        "<toast launch=\"{DEFAULT_ARG}\"{scenario}><visual><binding template=\"ToastGeneric\"><text>{}</text>",
        esc(&note.title)
    );
    if !note.body.is_empty() {
        x += &format!("<text>{}</text>", esc(&note.body));
    }
    if let Some(icon) = note.icon.as_deref().filter(|i| i.starts_with("file:///")) {
        x += &format!(
            "<image placement=\"appLogoOverride\" hint-crop=\"circle\" src=\"{}\"/>",
            esc(icon)
        );
    }
    x += "</binding></visual><actions>";
    if let Some(label) = &note.reply {
        x += &format!(
            "<input id=\"{REPLY_INPUT}\" type=\"text\" placeHolderContent=\"{}\"/>\
             <action content=\"{}\" arguments=\"{REPLY_ARG}\" hint-inputId=\"{REPLY_INPUT}\"/>",
            esc(label),
            esc(label)
        );
    }
    for b in &note.buttons {
        x += &format!(
            "<action content=\"{}\" arguments=\"{}\"/>",
            esc(&b.label),
            esc(&b.key)
        );
    }
    x += "</actions>";
    x += if note.sound {
        match note.kind {
            Kind::IncomingCall => {
                "<audio src=\"ms-winsoundevent:Notification.Looping.Call\" loop=\"true\"/>"
            }
            _ => "<audio src=\"ms-winsoundevent:Notification.IM\"/>",
        }
    } else {
        "<audio silent=\"true\"/>"
    };
    x + "</toast>"
}

/// The event a toast activation stands for.
fn activation(id: &str, args: &ToastActivatedEventArgs) -> Event {
    let arg = args.Arguments().map(|a| a.to_string()).unwrap_or_default();
    if arg == REPLY_ARG {
        let text = args
            .UserInput()
            .and_then(|v| v.Lookup(&HSTRING::from(REPLY_INPUT)))
            .and_then(|v| v.cast::<windows::Foundation::IPropertyValue>())
            .and_then(|v| v.GetString())
            .map(|s| s.to_string())
            .unwrap_or_default();
        return Event::Replied {
            id: id.to_owned(),
            text,
        };
    }
    Event::Clicked {
        id: id.to_owned(),
        button: (arg != DEFAULT_ARG && !arg.is_empty()).then_some(arg),
    }
}

impl Notifier for Toasts {
    fn show(&self, note: &Note) -> Result<(), Error> {
        self.remove(&note.id);
        let doc = XmlDocument::new().map_err(|e| failed("XmlDocument", e))?;
        doc.LoadXml(&HSTRING::from(toast_xml(note)))
            .map_err(|e| failed("toast XML", e))?;
        let toast = ToastNotification::CreateToastNotification(&doc)
            .map_err(|e| failed("CreateToastNotification", e))?;
        let tag = HSTRING::from(note.id.as_str());
        toast.SetTag(&tag).map_err(|e| failed("SetTag", e))?;
        toast
            .SetGroup(&HSTRING::from(GROUP))
            .map_err(|e| failed("SetGroup", e))?;
        let (id, handler, shown) = (note.id.clone(), self.handler.clone(), self.shown.clone());
        toast
            .Activated(&TypedEventHandler::<ToastNotification, IInspectable>::new(
                move |_, args| {
                    let forgotten = shown
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id)
                        .is_some();
                    if let (true, Some(args)) = (forgotten, args.as_ref())
                        && let Ok(args) = args.cast::<ToastActivatedEventArgs>()
                    {
                        handler(activation(&id, &args));
                    }
                    Ok(())
                },
            ))
            .map_err(|e| failed("Activated", e))?;
        let (id, handler, shown) = (note.id.clone(), self.handler.clone(), self.shown.clone());
        toast
            .Dismissed(&TypedEventHandler::<
                ToastNotification,
                ToastDismissedEventArgs,
            >::new(move |_, args| {
                // A toast that moves to the action center is dismissed too (TimedOut) but
                // can still be clicked there: only the user's close ends it.
                let by_user = args
                    .as_ref()
                    .and_then(|a| a.Reason().ok())
                    .is_some_and(|r| r == ToastDismissalReason::UserCanceled);
                let forgotten = by_user
                    && shown
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id)
                        .is_some();
                if forgotten {
                    handler(Event::Closed { id: id.clone() });
                }
                Ok(())
            }))
            .map_err(|e| failed("Dismissed", e))?;
        self.notifier
            .Show(&toast)
            .map_err(|e| failed("ToastNotifier.Show", e))?;
        self.shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(note.id.clone(), toast);
        Ok(())
    }

    fn remove(&self, id: &str) {
        let toast = self
            .shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        if let Some(t) = toast {
            let _ = self.notifier.Hide(&t);
        }
        // Also from the action center, where Hide does not reach.
        if let Ok(h) = ToastNotificationManager::History() {
            let _ = h.RemoveGroupedTagWithId(
                &HSTRING::from(id),
                &HSTRING::from(GROUP),
                &HSTRING::from(self.app_id.as_str()),
            );
        }
    }

    fn describe(&self) -> String {
        format!("Windows toast notifications ({})", self.app_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_lays_out_buttons() {
        let n = Note {
            id: "n1".into(),
            kind: Kind::IncomingCall,
            title: "Bob <b>".into(),
            body: String::new(),
            icon: None,
            buttons: vec![super::super::Button {
                key: "accept".into(),
                label: "Connect & go".into(),
            }],
            reply: None,
            sound: false,
        };
        let x = toast_xml(&n);
        assert!(x.contains("scenario=\"incomingCall\""), "{x}");
        assert!(x.contains("<text>Bob &lt;b&gt;</text>"), "{x}");
        assert!(
            x.contains("<action content=\"Connect &amp; go\" arguments=\"accept\"/>"),
            "{x}"
        );
    }
}
