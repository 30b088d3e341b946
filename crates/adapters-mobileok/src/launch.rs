//! What the browser needs to open mobileOK's 표준창, as the domain's script launch of kind
//! [`MobileokLaunch::KIND`].

use bonin_domain::{Error, Launch, ScriptLaunch};
use serde::{Deserialize, Serialize};

/// The mobileOK 표준창 SDK call: load the script, then `MOBILEOK.process(request_url, …)`.
///
/// It travels as [`Launch::Script`] of kind [`MobileokLaunch::KIND`]; read it back with
/// [`MobileokLaunch::from_launch`] (or `ScriptLaunch::fields_as::<MobileokLaunch>()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileokLaunch {
    /// The SDK script to load.
    pub script_url: String,
    /// The URL the SDK posts to; it answers the MOKReqClientInfo JSON.
    pub request_url: String,
}

impl MobileokLaunch {
    /// The `kind` of a mobileOK launch on the wire.
    pub const KIND: &'static str = "mobileok";

    /// The launch the browser opens.
    pub fn to_launch(&self) -> Result<Launch, Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            request_url: &'a str,
        }
        ScriptLaunch::new(Self::KIND, self.script_url.clone(), &Fields { request_url: &self.request_url })
            .map(Launch::Script)
    }

    /// The mobileOK launch `launch` is, if it is one; a launch of this kind without its fields is
    /// `InvalidInput`.
    pub fn from_launch(launch: &Launch) -> Result<Option<Self>, Error> {
        match launch {
            Launch::Script(script) if script.kind() == Self::KIND => script.fields_as().map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_launch_writes_the_wire_object_it_always_had_and_reads_back() {
        let launch = MobileokLaunch {
            script_url: "https://cert.mobile-ok.com/resources/js/index.js".into(),
            request_url: "https://id.example/v1/verifications/vf0123456789abcdefghjkmnpq/launch".into(),
        };
        let wire = launch.to_launch().unwrap();
        assert_eq!(
            serde_json::to_string(&wire).unwrap(),
            r#"{"kind":"mobileok","script_url":"https://cert.mobile-ok.com/resources/js/index.js","request_url":"https://id.example/v1/verifications/vf0123456789abcdefghjkmnpq/launch"}"#
        );
        assert_eq!(MobileokLaunch::from_launch(&wire).unwrap(), Some(launch));
        let form = Launch::Form(bonin_domain::FormLaunch {
            action: "https://x.example".into(),
            method: bonin_domain::FormMethod::Post,
            fields: vec![],
        });
        assert_eq!(MobileokLaunch::from_launch(&form).unwrap(), None);
    }
}
