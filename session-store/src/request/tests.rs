use super::*;

fn json<T: DeserializeOwned + Validate>(body: &str) -> Result<T, ApiError> {
    parse_json(Some("application/json; charset=utf-8"), body.as_bytes())
}

#[test]
fn bad_json_catalogue() {
    let bad = |r: Result<PasswordAuthenticate, ApiError>| r.map(|_| ()).unwrap_err();
    assert_eq!(
        bad(json("{")),
        ApiError::InvalidRequest("malformed JSON".into())
    );
    assert_eq!(bad(json("[]")).code(), "invalid_request");
    assert_eq!(
        bad(json(r#"["alice","pw"]"#)),
        ApiError::InvalidRequest("the body must be a JSON object".into())
    );
    assert_eq!(
        bad(json(r#"{"password":"x"}"#)),
        ApiError::InvalidRequest("missing field `username`".into())
    );
    assert_eq!(
        bad(json(r#"{"username":"","password":"x"}"#)).code(),
        "invalid_request"
    );
    assert_eq!(
        bad(json(r#"{"username":"a\nb","password":"x"}"#)).code(),
        "invalid_request"
    );
    assert_eq!(
        bad(json(r#"{"username":1,"password":"x"}"#)).code(),
        "invalid_request"
    );
    let big = format!(
        r#"{{"username":"a","password":"{}"}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    assert_eq!(bad(json(&big)), ApiError::PayloadTooLarge);
    assert_eq!(
        parse_json::<Logout>(Some("text/plain"), b"{}").unwrap_err(),
        ApiError::UnsupportedMediaType
    );
    assert_eq!(
        parse_json::<Logout>(None, b"{}").unwrap_err(),
        ApiError::UnsupportedMediaType
    );
    let ok: PasswordAuthenticate = json(
        r#"{"username":"alice","password":"p","client_attributes":{"user_agent":"UA"},"claims":{}}"#,
    )
    .unwrap();
    assert_eq!(
        ok.client_attributes.unwrap().user_agent.as_deref(),
        Some("UA")
    );
}

#[test]
fn body_size_header() {
    let max = MAX_BODY_BYTES;
    assert_eq!(check_body_size(None, max), Ok(None));
    assert_eq!(check_body_size(Some("16384"), max), Ok(Some(16384)));
    assert_eq!(check_body_size(Some(" 0 "), max), Ok(Some(0)));
    for over in ["16385", "157286400", "99999999999999999999999999"] {
        assert_eq!(
            check_body_size(Some(over), max),
            Err(ApiError::PayloadTooLarge),
            "{over}"
        );
    }
    for bad in ["x", "", "-1", "+5", "5, 5", "1e3"] {
        assert_eq!(
            check_body_size(Some(bad), max).map_err(|e| e.status()),
            Err(400),
            "{bad:?}"
        );
    }
}

#[test]
fn body_size_while_read() {
    assert_eq!(check_read_size(0, 10), Ok(()));
    assert_eq!(check_read_size(10, 10), Ok(()));
    assert_eq!(check_read_size(11, 10), Err(ApiError::PayloadTooLarge));
    assert_eq!(
        check_read_size(usize::MAX, 10),
        Err(ApiError::PayloadTooLarge)
    );
}

#[test]
fn token_form() {
    let form = Some("application/x-www-form-urlencoded");
    let ok = parse_token_form(
        form,
        b"grant_type=client_credentials&client_id=edge&client_secret=a%2Bb+c",
    )
    .unwrap();
    assert_eq!(ok.client_secret, "a+b c");
    assert_eq!(
        parse_token_form(form, b"grant_type=password&client_id=a&client_secret=b").unwrap_err(),
        ApiError::UnsupportedGrantType
    );
    assert_eq!(
        parse_token_form(form, b"grant_type=client_credentials")
            .unwrap_err()
            .code(),
        "invalid_request"
    );
    assert_eq!(
        parse_token_form(
            form,
            b"grant_type=client_credentials&client_id=a&client_id=b&client_secret=c"
        )
        .unwrap_err()
        .code(),
        "invalid_request"
    );
    assert!(parse_token_form(Some("application/json"), b"{}").is_err());
    assert!(parse_token_form(form, b"grant_type=%zz").is_err());
}

/// The first bad field a body is refused for (`None`: accepted).
fn refused<T: DeserializeOwned + Validate>(body: &str) -> Option<String> {
    match json::<T>(body) {
        Ok(_) => None,
        Err(ApiError::InvalidRequest(m)) => Some(
            m.split('`')
                .nth(1)
                .unwrap_or_else(|| panic!("no field named in {m:?}"))
                .to_string(),
        ),
        Err(e) => panic!("{body}: {e:?}"),
    }
}

#[test]
fn every_field_of_every_body_is_validated() {
    let long = "x".repeat(MAX_FIELD_BYTES + 1);
    let fits = "x".repeat(MAX_FIELD_BYTES);
    let long_ip = "1".repeat(MAX_IP_ADDRESS_BYTES + 1);
    let pw = |p: &str| format!(r#"{{"username":"alice","password":"{p}"}}"#);
    let pw_with = |extra: &str| format!(r#"{{"username":"alice","password":"p",{extra}}}"#);
    let max_pw = "p".repeat(MAX_PASSWORD_BYTES);
    let over_pw = "p".repeat(MAX_PASSWORD_BYTES + 1);
    let password: Vec<(String, Option<&str>)> = vec![
        (pw("p"), None),
        (pw(&max_pw), None),
        (pw(r"tab\there\u0001"), None),
        (pw(""), Some("password")),
        (pw(&over_pw), Some("password")),
        (r#"{"username":"","password":""}"#.into(), Some("username")),
        (pw_with(&format!(r#""session_id":"{fits}""#)), None),
        (pw_with(r#""session_id":"""#), Some("session_id")),
        (
            pw_with(&format!(r#""session_id":"{long}""#)),
            Some("session_id"),
        ),
        (pw_with(r#""session_id":"a\u0000b""#), Some("session_id")),
        (pw_with(r#""resource":"https://api""#), None),
        (pw_with(r#""resource":"a\nb""#), Some("resource")),
        (
            pw_with(&format!(r#""resource":"{long}""#)),
            Some("resource"),
        ),
        (pw_with(r#""client_attributes":{}"#), None),
        (
            pw_with(&format!(r#""client_attributes":{{"user_agent":"{fits}"}}"#)),
            None,
        ),
        (
            pw_with(&format!(r#""client_attributes":{{"user_agent":"{long}"}}"#)),
            Some("client_attributes.user_agent"),
        ),
        (
            pw_with(r#""client_attributes":{"user_agent":""}"#),
            Some("client_attributes.user_agent"),
        ),
        (
            pw_with(r#""client_attributes":{"ip_address":"192.0.2.1"}"#),
            None,
        ),
        (
            pw_with(&format!(
                r#""client_attributes":{{"ip_address":"{long_ip}"}}"#
            )),
            Some("client_attributes.ip_address"),
        ),
        (
            pw_with(r#""client_attributes":{"ip_address":"1\r\n2"}"#),
            Some("client_attributes.ip_address"),
        ),
    ];
    for (body, want) in &password {
        let got = refused::<PasswordAuthenticate>(body);
        assert_eq!(got.as_deref(), *want, "{}", &body[..body.len().min(120)]);
    }

    let sa = |extra: &str| format!(r#"{{"session_id":"s1.abc"{extra}}}"#);
    let session: Vec<(String, Option<&str>)> = vec![
        (sa(""), None),
        (format!(r#"{{"session_id":"{fits}"}}"#), None),
        (r#"{"session_id":""}"#.into(), Some("session_id")),
        (format!(r#"{{"session_id":"{long}"}}"#), Some("session_id")),
        (r#"{"session_id":"s1\u007f"}"#.into(), Some("session_id")),
        (sa(r#","resource":"a\tb""#), Some("resource")),
        (
            sa(&format!(
                r#","client_attributes":{{"user_agent":"{long}"}}"#
            )),
            Some("client_attributes.user_agent"),
        ),
        (
            sa(&format!(
                r#","client_attributes":{{"ip_address":"{long_ip}"}}"#
            )),
            Some("client_attributes.ip_address"),
        ),
    ];
    for (body, want) in &session {
        let got = refused::<SessionAuthenticate>(body);
        assert_eq!(got.as_deref(), *want, "{}", &body[..body.len().min(120)]);
    }

    for (name, value, want) in [
        ("refresh_token", "rt1.x", None),
        ("refresh_token", fits.as_str(), None),
        ("refresh_token", "", Some("refresh_token")),
        ("refresh_token", long.as_str(), Some("refresh_token")),
        ("refresh_token", "rt1\\u0000", Some("refresh_token")),
        ("session_id", "s1.x", None),
        ("session_id", fits.as_str(), None),
        ("session_id", "", Some("session_id")),
        ("session_id", long.as_str(), Some("session_id")),
        ("session_id", "s1\\n", Some("session_id")),
    ] {
        let body = format!(r#"{{"{name}":"{value}"}}"#);
        let got = if name == "refresh_token" {
            refused::<Refresh>(&body)
        } else {
            refused::<Logout>(&body)
        };
        assert_eq!(got.as_deref(), want, "{}", &body[..body.len().min(120)]);
    }
}

#[test]
fn bodies_of_exactly_the_limit_are_read() {
    // Valid bodies padded with whitespace (JSON) or empty pairs (form) to a given length.
    let json_body = |len: usize| {
        let mut b = br#"{"session_id":"s1.x"}"#.to_vec();
        b.resize(len, b' ');
        b
    };
    let form_body = |len: usize| {
        let mut b = b"grant_type=client_credentials&client_id=edge&client_secret=x".to_vec();
        b.resize(len, b'&');
        b
    };
    let ct = Some("application/json");
    let form = Some("application/x-www-form-urlencoded");
    for (len, ok) in [
        (MAX_BODY_BYTES - 1, true),
        (MAX_BODY_BYTES, true),
        (MAX_BODY_BYTES + 1, false),
    ] {
        let j = parse_json::<Logout>(ct, &json_body(len));
        let f = parse_token_form(form, &form_body(len));
        if ok {
            assert!(j.is_ok(), "json {len}: {j:?}");
            assert_eq!(f.map(|c| c.client_id).as_deref(), Ok("edge"), "form {len}");
        } else {
            assert_eq!(j.map(|_| ()), Err(ApiError::PayloadTooLarge), "json {len}");
            assert_eq!(f.map(|_| ()), Err(ApiError::PayloadTooLarge), "form {len}");
        }
    }
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    // RFC 7235 §2.1: the auth-scheme is a case-insensitive token, followed by one or more
    // spaces.
    for header in [
        "Bearer tok",
        "bearer tok",
        "BEARER tok",
        "bEaReR tok",
        "Bearer   tok",
    ] {
        assert_eq!(bearer_token(Some(header)), Some("tok"), "{header}");
    }
    for header in [
        "Basic tok",
        "Bearertok",
        "Bearer",
        "Bearer ",
        "",
        "Token tok",
    ] {
        assert_eq!(bearer_token(Some(header)), None, "{header}");
    }
    assert_eq!(bearer_token(None), None);
}
