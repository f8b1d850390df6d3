//! Scalar values: names, versions, digests, commit hashes, CIDRs, sort expressions, roles,
//! the wire enums and paging.

use crate::{any_text, CASES};
use proptest::prelude::*;
use terrane_domain::lifecycle::variables::Pattern;
use terrane_domain::*;

/// Parses `$text` with every wire enum; a value that parses prints as the text it came from.
macro_rules! wire_round_trip {
    ($text:expr, $($enum:ty),+ $(,)?) => {
        $(
            if let Ok(value) = $text.parse::<$enum>() {
                prop_assert_eq!(value.as_str(), $text.as_str());
                prop_assert_eq!(value.to_string().parse::<$enum>().unwrap(), value);
            }
            for value in <$enum>::ALL {
                prop_assert_eq!(&value.as_str().parse::<$enum>().unwrap(), value);
            }
        )+
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn names_parse_any_text_without_panicking_and_read_back_the_same(text in any_text()) {
        if let Ok(name) = EnvironmentName::parse(&text) {
            prop_assert_eq!(name.as_str(), text.as_str());
            prop_assert_eq!(EnvironmentName::parse(&name.to_string()).unwrap(), name);
        }
        if let Ok(name) = ComponentName::parse(&text) {
            prop_assert_eq!(ComponentName::parse(&name.to_string()).unwrap(), name);
        }
        if let Ok(name) = TargetName::parse(&text) {
            prop_assert_eq!(TargetName::parse(&name.to_string()).unwrap(), name);
        }
        if let Ok(name) = TargetGroupName::parse(&text) {
            prop_assert_eq!(TargetGroupName::parse(&name.to_string()).unwrap(), name);
        }
    }

    #[test]
    fn valid_environment_names_parse_and_read_back_the_same(
        text in "[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?"
    ) {
        let name = EnvironmentName::parse(&text).unwrap();
        prop_assert_eq!(EnvironmentName::parse(name.as_str()).unwrap(), name);
    }

    #[test]
    fn valid_component_target_and_group_names_parse_and_read_back_the_same(
        component in "[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?",
        other in "[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}",
    ) {
        let c = ComponentName::parse(&component).unwrap();
        prop_assert_eq!(ComponentName::parse(c.as_str()).unwrap(), c);
        let t = TargetName::parse(&other).unwrap();
        prop_assert_eq!(TargetName::parse(t.as_str()).unwrap(), t);
        let g = TargetGroupName::parse(&other).unwrap();
        prop_assert_eq!(TargetGroupName::parse(g.as_str()).unwrap(), g);
    }

    #[test]
    fn versions_digests_and_commit_hashes_parse_any_text_and_read_back_the_same(
        text in any_text()
    ) {
        if let Ok(v) = Version::parse(&text) {
            prop_assert_eq!(Version::parse(v.as_str()).unwrap(), v);
        }
        if let Ok(d) = Digest::parse(&text, "digest") {
            prop_assert_eq!(Digest::parse(d.as_str(), "digest").unwrap(), d);
        }
        if let Ok(c) = CommitSha::parse(&text) {
            prop_assert_eq!(CommitSha::parse(c.as_str()).unwrap(), c);
        }
    }

    #[test]
    fn valid_versions_digests_and_commit_hashes_parse_and_read_back_the_same(
        version in "[!-~]{1,128}",
        hex in "[0-9a-f]{64}",
        sha in "[0-9a-fA-F]{7,40}",
    ) {
        let v = Version::parse(&version).unwrap();
        prop_assert_eq!(Version::parse(v.as_str()).unwrap(), v);
        let d = Digest::parse(&format!("sha256:{hex}"), "digest").unwrap();
        prop_assert_eq!(Digest::parse(d.as_str(), "digest").unwrap(), d);
        let c = CommitSha::parse(&sha).unwrap();
        prop_assert_eq!(c.as_str(), sha.to_ascii_lowercase());
        prop_assert_eq!(CommitSha::parse(c.as_str()).unwrap(), c);
    }

    #[test]
    fn cidrs_parse_any_text_and_read_back_the_same(text in any_text()) {
        if let Ok(block) = Cidr::parse(&text) {
            prop_assert_eq!(Cidr::parse(&block.to_string()).unwrap(), block);
        }
        if let Ok(blocks) = Cidr::parse_list(&text) {
            let printed: Vec<String> = blocks.iter().map(ToString::to_string).collect();
            prop_assert_eq!(Cidr::parse_list(&printed.join(",")).unwrap(), blocks);
        }
    }

    #[test]
    fn every_address_block_parses_and_reads_back_the_same(
        v4 in any::<[u8; 4]>(),
        v6 in any::<[u16; 8]>(),
        prefix in 0u8..=140,
        bare in any::<bool>(),
    ) {
        let v4 = std::net::Ipv4Addr::from(v4);
        let v6 = std::net::Ipv6Addr::from(v6);
        let v6_max = if v6.to_ipv4_mapped().is_some() { 32u8 } else { 128 };
        for (address, max) in [(v4.to_string(), 32u8), (v6.to_string(), v6_max)] {
            let text = if bare { address.clone() } else { format!("{address}/{prefix}") };
            match Cidr::parse(&text) {
                Ok(block) => {
                    prop_assert!(bare || prefix <= max);
                    prop_assert_eq!(Cidr::parse(&block.to_string()).unwrap(), block);
                    prop_assert!(block.contains(address.parse().unwrap()));
                }
                Err(message) => {
                    prop_assert!(!bare && prefix > max, "{text}: {message}");
                }
            }
        }
    }

    #[test]
    fn sort_expressions_parse_any_text_and_read_back_the_same(text in any_text()) {
        if let Ok(sort) = EnvironmentSort::parse(&text) {
            let printed = format!("{}{}", if sort.descending { "~" } else { "" }, sort.field);
            prop_assert_eq!(printed, text);
        }
    }

    #[test]
    fn every_sort_field_both_ways_reads_back_the_same(
        field in prop::sample::select(EnvironmentSortField::ALL),
        descending in any::<bool>(),
    ) {
        let text = format!("{}{field}", if descending { "~" } else { "" });
        let sort = EnvironmentSort::parse(&text).unwrap();
        prop_assert_eq!(sort.field, field);
        prop_assert_eq!(sort.descending, descending);
    }

    #[test]
    fn roles_and_wire_enums_parse_any_text_and_read_back_the_same(text in prop_oneof![
        any_text(),
        "(~)?[a-z_]{1,20}",
    ]) {
        if let Ok(role) = text.parse::<Role>() {
            prop_assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        wire_round_trip!(
            text,
            ComponentKind, ComponentLifecycle, DeploymentStatus, EnvironmentSortField,
            EnvironmentStatus, EnvironmentTier, EnvironmentType, GateKind, HealthStatus,
            LifecycleAction, PromotionPolicy, RequestStatus, RunStatus, StepStatus, TargetType,
        );
    }

    #[test]
    fn pages_parse_any_numbers_and_read_back_the_same(
        skip in prop::option::of(any::<i64>()),
        take in prop::option::of(prop_oneof![any::<i64>(), -2i64..200]),
    ) {
        if let Ok(page) = Page::parse(skip, take) {
            let again = Page::parse(Some(i64::from(page.skip())), Some(i64::from(page.take())));
            prop_assert_eq!(again.unwrap(), page);
            prop_assert!((1..=Page::MAX_TAKE).contains(&page.take()));
        }
    }

    #[test]
    fn variable_patterns_parse_any_text_and_read_back_the_same(
        source in prop_oneof![any_text(), "[\\[\\]()a-z|*+?{}0-9,\\\\^$.-]{0,30}"],
        value in any_text(),
    ) {
        if let Ok(pattern) = Pattern::parse(&source, "pattern") {
            let again = Pattern::parse(pattern.as_str(), "pattern").unwrap();
            prop_assert_eq!(again.matches(&value), pattern.matches(&value));
            prop_assert_eq!(again, pattern);
        }
    }
}
