//! macOS notifications: `UNUserNotificationCenter` (UserNotifications framework).
//!
//! The center works only inside an app bundle (it raises an exception otherwise), so
//! [`UserNotifications::open`] first checks that the main bundle has an identifier.
//! Buttons need a category with the note's actions; categories are per note
//! (`myapps.<id>`) since the labels come with each note, and the set is registered again on
//! every change. A reply field is a `UNTextInputNotificationAction`. Clicks arrive at the
//! center's delegate (an Objective-C class defined here, in the one `unsafe` spot).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use block2::RcBlock;
use objc2::rc::Retained;
use objc2::runtime::{Bool, ProtocolObject};
use objc2_foundation::{NSArray, NSBundle, NSError, NSSet, NSString};
use objc2_user_notifications::{
    UNAuthorizationOptions, UNMutableNotificationContent, UNNotificationAction,
    UNNotificationActionOptions, UNNotificationCategory, UNNotificationCategoryOptions,
    UNNotificationRequest, UNNotificationSound, UNTextInputNotificationAction,
    UNUserNotificationCenter,
};

use super::{Error, Event, Handler, Kind, Note, Notifier, Options};

/// The action id of the reply field.
const REPLY: &str = "reply";

/// Buttons of the notes shown, by id: the categories to register.
type Categories = HashMap<String, (Vec<(String, String)>, Option<String>)>;

pub(super) struct UserNotifications {
    bundle: String,
    categories: Arc<Mutex<Categories>>,
}

fn lock(c: &Mutex<Categories>) -> MutexGuard<'_, Categories> {
    c.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UserNotifications {
    pub(super) fn open(options: &Options, handler: Handler) -> Result<Self, Error> {
        let _ = options;
        let bundle = NSBundle::mainBundle()
            .bundleIdentifier()
            .map(|b| b.to_string())
            .ok_or_else(|| {
                Error::Unavailable(
                    "not started from an app bundle (UNUserNotificationCenter needs one)".into(),
                )
            })?;
        let center = UNUserNotificationCenter::currentNotificationCenter();
        let categories = Arc::new(Mutex::new(Categories::new()));
        let delegate = delegate::Delegate::new(handler, categories.clone());
        center.setDelegate(Some(ProtocolObject::from_ref(&*delegate)));
        // The center holds its delegate weakly; ours lives as long as the process.
        std::mem::forget(delegate);
        let answer = RcBlock::new(|granted: Bool, error: *mut NSError| {
            if !granted.as_bool() {
                tracing::warn!(
                    "notifications not allowed (System Settings → Notifications → myApps){}",
                    if error.is_null() {
                        ""
                    } else {
                        ": the request failed"
                    }
                );
            }
        });
        center.requestAuthorizationWithOptions_completionHandler(
            UNAuthorizationOptions::Alert | UNAuthorizationOptions::Sound,
            &answer,
        );
        Ok(UserNotifications { bundle, categories })
    }
}

/// Registers the categories of every note shown (the center replaces the whole set).
fn register(center: &UNUserNotificationCenter, categories: &Categories) {
    let all: Vec<Retained<UNNotificationCategory>> = categories
        .iter()
        .map(|(id, (buttons, reply))| {
            let mut actions: Vec<Retained<UNNotificationAction>> = Vec::new();
            if let Some(label) = reply {
                let a = UNTextInputNotificationAction::actionWithIdentifier_title_options_textInputButtonTitle_textInputPlaceholder(
                    &NSString::from_str(REPLY),
                    &NSString::from_str(label),
                    UNNotificationActionOptions::empty(),
                    &NSString::from_str(label),
                    &NSString::from_str(""),
                );
                actions.push(Retained::into_super(a));
            }
            for (key, label) in buttons {
                let options = if key == "reject" {
                    UNNotificationActionOptions::Destructive
                } else {
                    UNNotificationActionOptions::Foreground
                };
                actions.push(UNNotificationAction::actionWithIdentifier_title_options(
                    &NSString::from_str(key),
                    &NSString::from_str(label),
                    options,
                ));
            }
            UNNotificationCategory::categoryWithIdentifier_actions_intentIdentifiers_options(
                &NSString::from_str(&category_id(id)),
                &NSArray::from_retained_slice(&actions),
                &NSArray::from_retained_slice(&[]),
                UNNotificationCategoryOptions::CustomDismissAction,
            )
        })
        .collect();
    center.setNotificationCategories(&NSSet::from_retained_slice(&all));
}

fn category_id(id: &str) -> String {
    format!("myapps.{id}")
}

impl Notifier for UserNotifications {
    fn show(&self, note: &Note) -> Result<(), Error> {
        let center = UNUserNotificationCenter::currentNotificationCenter();
        {
            let mut c = lock(&self.categories);
            c.insert(
                note.id.clone(),
                (
                    note.buttons
                        .iter()
                        .map(|b| (b.key.clone(), b.label.clone()))
                        .collect(),
                    note.reply.clone(),
                ),
            );
            register(&center, &c);
        }
        let content = UNMutableNotificationContent::new();
        content.setTitle(&NSString::from_str(&note.title));
        content.setBody(&NSString::from_str(&note.body));
        content.setCategoryIdentifier(&NSString::from_str(&category_id(&note.id)));
        if note.sound {
            let sound = match note.kind {
                Kind::IncomingCall => UNNotificationSound::defaultRingtoneSound(),
                _ => UNNotificationSound::defaultSound(),
            };
            content.setSound(Some(&sound));
        }
        let request = UNNotificationRequest::requestWithIdentifier_content_trigger(
            &NSString::from_str(&note.id),
            &content,
            None,
        );
        let id = note.id.clone();
        let done = RcBlock::new(move |error: *mut NSError| {
            if !error.is_null() {
                tracing::warn!("notification {id} was not delivered");
            }
        });
        center.addNotificationRequest_withCompletionHandler(&request, Some(&done));
        Ok(())
    }

    fn remove(&self, id: &str) {
        let center = UNUserNotificationCenter::currentNotificationCenter();
        let ids = NSArray::from_retained_slice(&[NSString::from_str(id)]);
        center.removeDeliveredNotificationsWithIdentifiers(&ids);
        center.removePendingNotificationRequestsWithIdentifiers(&ids);
        let mut c = lock(&self.categories);
        if c.remove(id).is_some() {
            register(&center, &c);
        }
    }

    fn describe(&self) -> String {
        format!("macOS UserNotifications ({})", self.bundle)
    }
}

/// The center's delegate: an Objective-C class, hence `unsafe` (class definition and its
/// `init`), and nothing else here.
#[allow(unsafe_code)]
mod delegate {
    use super::*;
    use objc2::{AllocAnyThread, DefinedClass, define_class, msg_send};
    use objc2_foundation::{NSObject, NSObjectProtocol};
    use objc2_user_notifications::{
        UNNotification, UNNotificationPresentationOptions, UNNotificationResponse,
        UNTextInputNotificationResponse, UNUserNotificationCenterDelegate,
    };

    /// `UNNotificationDefaultActionIdentifier`: the note itself was clicked.
    const DEFAULT_ACTION: &str = "com.apple.UNNotificationDefaultActionIdentifier";
    /// `UNNotificationDismissActionIdentifier`: the user closed it.
    const DISMISS_ACTION: &str = "com.apple.UNNotificationDismissActionIdentifier";

    pub(super) struct Ivars {
        handler: Handler,
        categories: Arc<Mutex<Categories>>,
    }

    define_class!(
        // SAFETY: NSObject has no subclassing requirements; Delegate implements no Drop.
        #[unsafe(super(NSObject))]
        #[name = "MyAppsNotificationDelegate"]
        #[ivars = Ivars]
        pub(super) struct Delegate;

        // SAFETY: NSObjectProtocol has no extra requirements.
        unsafe impl NSObjectProtocol for Delegate {}

        // SAFETY: the methods below have the protocol's selectors and signatures (taken
        // from objc2-user-notifications' UNUserNotificationCenterDelegate).
        unsafe impl UNUserNotificationCenterDelegate for Delegate {
            #[unsafe(method(userNotificationCenter:didReceiveNotificationResponse:withCompletionHandler:))]
            fn did_receive(
                &self,
                _center: &UNUserNotificationCenter,
                response: &UNNotificationResponse,
                completion: &block2::DynBlock<dyn Fn()>,
            ) {
                self.respond(response);
                completion.call(());
            }

            #[unsafe(method(userNotificationCenter:willPresentNotification:withCompletionHandler:))]
            fn will_present(
                &self,
                _center: &UNUserNotificationCenter,
                _notification: &UNNotification,
                completion: &block2::DynBlock<dyn Fn(UNNotificationPresentationOptions)>,
            ) {
                // Shown while the app is in front too (the default would hide it).
                completion.call((UNNotificationPresentationOptions::Banner
                    | UNNotificationPresentationOptions::List
                    | UNNotificationPresentationOptions::Sound,));
            }
        }
    );

    impl Delegate {
        pub(super) fn new(handler: Handler, categories: Arc<Mutex<Categories>>) -> Retained<Self> {
            let this = Self::alloc().set_ivars(Ivars {
                handler,
                categories,
            });
            // SAFETY: NSObject's `init` on a freshly allocated instance with its ivars set.
            unsafe { msg_send![super(this), init] }
        }

        fn respond(&self, response: &UNNotificationResponse) {
            let id = response.notification().request().identifier().to_string();
            let action = response.actionIdentifier().to_string();
            let known = lock(&self.ivars().categories).remove(&id).is_some();
            if !known {
                return;
            }
            let event = match action.as_str() {
                DISMISS_ACTION => Event::Closed { id },
                DEFAULT_ACTION => Event::Clicked { id, button: None },
                REPLY => Event::Replied {
                    id,
                    text: response
                        .downcast_ref::<UNTextInputNotificationResponse>()
                        .map(|r| r.userText().to_string())
                        .unwrap_or_default(),
                },
                _ => Event::Clicked {
                    id,
                    button: Some(action),
                },
            };
            (self.ivars().handler)(event);
        }
    }
}
