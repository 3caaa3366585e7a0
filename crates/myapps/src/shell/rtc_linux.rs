//! The WebKitGTK side of the WebRTC transport (docs/webrtc.md, "Transport and security"):
//! the scripts of every frame and the `myappsRtc` script-message handler with reply, whose
//! messages go to the [`super::rtc::Router`] on the tokio runtime and whose replies come
//! back on GTK's main thread.
//!
//! webkit2gtk-rs 2.0.2 has no binding for the `script-message-with-reply-received` signal
//! (WebKitGTK 2.40) nor for `WebKitScriptMessageReply`, so this module connects the signal
//! through GObject and calls the reply's C functions: the crate's only unsafe code, each
//! block with its SAFETY note. (The signal's arguments: the manager, the message as a
//! JSCValue, the reply; WebKit2-4.1.gir.) A reply is a boxed type with its own reference count: we
//! take a reference in the signal handler ([`Reply::take`]) and give it back when the
//! [`Reply`] is dropped, whether or not it was answered (WebKit then answers `undefined`).

use std::ptr::NonNull;

use webkit2gtk::glib::prelude::ObjectExt;
use webkit2gtk::glib::translate::{IntoGlib, ToGlibPtr};
use webkit2gtk::glib::{self, gobject_ffi};
use webkit2gtk::{
    UserContentInjectedFrames, UserContentManager, UserContentManagerExt, UserScript,
    UserScriptInjectionTime,
};

use super::rtc::Router;

/// The message handler's name (`window.webkit.messageHandlers.myappsRtc`, in our world only).
const HANDLER: &str = "myappsRtc";

/// The isolated-world script: `assets/webrtc/forwarder.js`.
const FORWARDER: &str = include_str!("../../../../assets/webrtc/forwarder.js");

/// Adds the transport's scripts and handler to `ucm` (once per user content manager, as
/// [`super::linux`]'s scripts): the page-world script for frames of trusted origins
/// ([`super::rtc::page_script`]), the forwarder in `world`, and the handler in `world`.
pub fn install(
    ucm: &UserContentManager,
    world: &str,
    page_script: &str,
    router: Router,
    rt: tokio::runtime::Handle,
) {
    let all = UserContentInjectedFrames::AllFrames;
    let start = UserScriptInjectionTime::Start;
    ucm.add_script(&UserScript::new(page_script, all, start, &[], &[]));
    ucm.add_script(&UserScript::for_world(
        FORWARDER,
        all,
        start,
        world,
        &[],
        &[],
    ));
    if !ucm.register_script_message_handler_with_reply(HANDLER, world) {
        tracing::warn!("WebRTC transport: the message handler {HANDLER} could not be registered");
        return;
    }
    let signal = format!("script-message-with-reply-received::{HANDLER}");
    ucm.connect_local(&signal, false, move |args| {
        on_message(args, &router, &rt);
        // Handled: WebKit waits for our reply (we hold a reference to it).
        Some(true.into())
    });
    tracing::info!("WebRTC transport: scripts and the {HANDLER} handler installed");
}

/// One message: its text to the router on the runtime, the reply back on this (GTK's main)
/// thread.
fn on_message(args: &[glib::Value], router: &Router, rt: &tokio::runtime::Handle) {
    // Arguments of the signal: the manager, the message (JSCValue), the reply (boxed).
    let (Some(value), Some(reply)) = (args.get(1), args.get(2)) else {
        return;
    };
    let Some(reply) = Reply::take(reply) else {
        return;
    };
    let Ok(value) = value.get::<javascriptcore::Value>() else {
        reply.error("the message is not a JavaScript value");
        return;
    };
    use javascriptcore::ValueExt;
    let Some(context) = value.context() else {
        reply.error("the message has no JavaScript context");
        return;
    };
    if !value.is_string() {
        reply.error("the message must be a JSON string");
        return;
    }
    let text = value.to_str().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<serde_json::Value>();
    let r = router.clone();
    rt.spawn(async move {
        let _ = tx.send(r.handle(&text).await);
    });
    glib::MainContext::default().spawn_local(async move {
        match rx.await {
            Ok(v) => reply.value(&javascriptcore::Value::new_string(
                &context,
                Some(&v.to_string()),
            )),
            Err(_) => reply.error("the app's WebRTC transport stopped"),
        }
    });
}

/// A reference to a `WebKitScriptMessageReply`, released on drop. Not `Send`: it lives and
/// is answered on GTK's main thread, where the signal came.
struct Reply(NonNull<webkit2gtk::ffi::WebKitScriptMessageReply>);

impl Reply {
    /// Our reference to the reply in a signal argument.
    #[allow(unsafe_code)]
    fn take(arg: &glib::Value) -> Option<Reply> {
        // SAFETY: a getter of the reply's registered GType, without arguments.
        let reply_type = unsafe { webkit2gtk::ffi::webkit_script_message_reply_get_type() };
        if arg.type_().into_glib() != reply_type {
            tracing::warn!(got = %arg.type_(), "WebRTC transport: not a script message reply");
            return None;
        }
        let gvalue: *const gobject_ffi::GValue = arg.to_glib_none().0;
        // SAFETY: `arg` holds a WebKitScriptMessageReply (its type checked above);
        // g_value_get_boxed only reads the pointer (borrowed; a null one is checked below),
        // and the GValue lives for this call.
        let ptr = unsafe { gobject_ffi::g_value_get_boxed(gvalue) };
        let ptr = NonNull::new(ptr.cast::<webkit2gtk::ffi::WebKitScriptMessageReply>())?;
        // SAFETY: `ptr` is a live reply (the signal holds one for its duration); taking a
        // reference keeps it alive past the handler, as WebKitGTK's docs describe for
        // replying asynchronously; `Drop` gives it back.
        unsafe { webkit2gtk::ffi::webkit_script_message_reply_ref(ptr.as_ptr()) };
        Some(Reply(ptr))
    }

    /// Answers with `value` (the promise of `postMessage` resolves to it).
    #[allow(unsafe_code)]
    fn value(self, value: &javascriptcore::Value) {
        // SAFETY: `self.0` is a reply we hold a reference to; `value` is a live JSCValue
        // (borrowed: the function takes its own reference). Answering twice is refused by
        // consuming `self`.
        unsafe {
            webkit2gtk::ffi::webkit_script_message_reply_return_value(
                self.0.as_ptr(),
                value.to_glib_none().0,
            );
        }
    }

    /// Answers with an error (the promise rejects with `message`).
    #[allow(unsafe_code)]
    fn error(self, message: &str) {
        let message: glib::GString = message.into();
        // SAFETY: `self.0` is a reply we hold a reference to; `message` is a NUL-terminated
        // string that outlives the call (the function copies it).
        unsafe {
            webkit2gtk::ffi::webkit_script_message_reply_return_error_message(
                self.0.as_ptr(),
                message.as_ptr(),
            );
        }
    }
}

impl Drop for Reply {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: gives back the one reference `take` took; `self.0` is not used after.
        unsafe { webkit2gtk::ffi::webkit_script_message_reply_unref(self.0.as_ptr()) };
    }
}
