//! Hand-kept diesel schema. Portable types only (see design.md): it must describe the
//! SQLite and the PostgreSQL migrations alike.

diesel::table! {
    areas (id) {
        id -> Integer,
        kind -> Text,
        code -> Text,
        name -> Text,
        parent_id -> Nullable<Integer>,
        prefecture_code -> Text,
        district -> Nullable<Text>,
        secondary_area -> Nullable<Text>,
        contact_desk -> Nullable<Text>,
        sort_order -> Integer,
    }
}

diesel::table! {
    institutions (id) {
        id -> Integer,
        code -> Text,
        prefecture_code -> Text,
        fee_table -> Text,
        category -> Text,
        is_special_function -> Bool,
        is_correctional -> Bool,
        name -> Text,
        name_kana -> Nullable<Text>,
        postcode -> Nullable<Text>,
        address -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        prefecture_id -> Integer,
        jurisdiction_id -> Nullable<Integer>,
        municipality_id -> Nullable<Integer>,
        founder -> Nullable<Text>,
        manager -> Nullable<Text>,
        designated_on -> Nullable<Date>,
        departments -> Nullable<Text>,
        status -> Text,
        paper_report -> Bool,
        target_override -> Nullable<Bool>,
        target_override_reason -> Nullable<Text>,
        is_target -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        short_code -> Text,
        search_key -> Text,
        email_bounced_at -> Nullable<Timestamp>,
        email_bounce_reason -> Nullable<Text>,
    }
}

diesel::table! {
    imports (id) {
        id -> Integer,
        kind -> Text,
        file_name -> Text,
        layout -> Text,
        prefecture_id -> Integer,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
        status -> Text,
        fingerprint -> Text,
        payload -> Text,
        summary -> Text,
        applied_at -> Nullable<Timestamp>,
        file_data -> Nullable<Binary>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Integer,
        token_hash -> Text,
        user_id -> Integer,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        end_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        login_id -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        role -> Text,
        area_id -> Nullable<Integer>,
        institution_id -> Nullable<Integer>,
        active -> Bool,
        password_hash -> Text,
        must_change_password -> Bool,
        failed_attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        news_seen_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Integer,
        at -> Timestamp,
        actor_id -> Nullable<Integer>,
        actor_login -> Nullable<Text>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        prefecture_id -> Nullable<Integer>,
        detail -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    institution_name_grams (gram, institution_id) {
        gram -> Text,
        institution_id -> Integer,
    }
}

diesel::table! {
    catalogs (id) {
        id -> Integer,
        fiscal_year -> Integer,
        version -> Text,
        body -> Text,
        loaded_by -> Nullable<Integer>,
        loaded_at -> Timestamp,
    }
}

diesel::table! {
    reporting_periods (id) {
        id -> Integer,
        prefecture_id -> Integer,
        fiscal_year -> Integer,
        opens_on -> Date,
        deadline -> Date,
        closes_on -> Date,
        contact -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ndb_counts (fiscal_year, institution_code, item_key) {
        fiscal_year -> Integer,
        institution_code -> Text,
        item_key -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    reports (id) {
        id -> Integer,
        institution_id -> Integer,
        fiscal_year -> Integer,
        cycle -> Integer,
        kind -> Text,
        status -> Text,
        catalog_version -> Text,
        answers -> Text,
        ndb -> Text,
        sections -> Text,
        checked_code -> Nullable<Text>,
        revision -> Integer,
        was_returned -> Bool,
        return_reason -> Nullable<Text>,
        versions -> Integer,
        function1 -> Bool,
        after_hours -> Bool,
        admission_discharge -> Bool,
        home_care -> Bool,
        care_coordination -> Bool,
        proxy -> Bool,
        submitted_at -> Nullable<Timestamp>,
        confirmed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        updated_by -> Nullable<Integer>,
        is_latest -> Bool,
        confirmed_by -> Nullable<Integer>,
        structure_confirmed_at -> Nullable<Timestamp>,
        structure_confirmed_by -> Nullable<Integer>,
        returned_at -> Nullable<Timestamp>,
        returned_by -> Nullable<Integer>,
    }
}

diesel::table! {
    report_memos (id) {
        id -> Integer,
        report_id -> Integer,
        author_id -> Nullable<Integer>,
        author_name -> Text,
        from_institution -> Bool,
        internal -> Bool,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    memo_reads (user_id, report_id) {
        user_id -> Integer,
        report_id -> Integer,
        last_seen_memo -> Integer,
    }
}

diesel::table! {
    bulk_confirmations (id) {
        id -> Integer,
        user_id -> Integer,
        fiscal_year -> Integer,
        reports -> Text,
        status -> Text,
        result -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    report_versions (id) {
        id -> Integer,
        report_id -> Integer,
        number -> Integer,
        kind -> Text,
        answers -> Text,
        ndb -> Text,
        determination -> Text,
        catalog_version -> Text,
        submitted_by -> Nullable<Integer>,
        submitted_login -> Text,
        proxy -> Bool,
        submitted_at -> Timestamp,
    }
}

diesel::table! {
    review_years (fiscal_year) {
        fiscal_year -> Integer,
    }
}

diesel::table! {
    review_entries (institution_id, fiscal_year) {
        institution_id -> Integer,
        fiscal_year -> Integer,
        prefecture_id -> Integer,
        jurisdiction_id -> Nullable<Integer>,
        municipality_id -> Nullable<Integer>,
        code -> Text,
        short_code -> Text,
        search_key -> Text,
        category -> Text,
        is_target -> Bool,
        paper_report -> Bool,
        has_email -> Bool,
        report_id -> Nullable<Integer>,
        status -> Text,
        kind -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        function1 -> Nullable<Bool>,
        after_hours -> Nullable<Bool>,
        admission_discharge -> Nullable<Bool>,
        home_care -> Nullable<Bool>,
        care_coordination -> Nullable<Bool>,
        proxy -> Nullable<Bool>,
    }
}

diesel::table! {
    change_counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    mail_templates (prefecture_id, template_key) {
        prefecture_id -> Integer,
        template_key -> Text,
        subject -> Text,
        body -> Text,
        revision -> Integer,
        updated_by -> Nullable<Integer>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mail_campaigns (id) {
        id -> Integer,
        prefecture_id -> Integer,
        area_id -> Nullable<Integer>,
        template_key -> Text,
        fiscal_year -> Integer,
        audience -> Text,
        audience_detail -> Text,
        state -> Text,
        state_reason -> Nullable<Text>,
        recipients -> Integer,
        without_address -> Integer,
        scheduled_at -> Nullable<Timestamp>,
        request_key -> Text,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Integer,
        campaign_id -> Nullable<Integer>,
        event_key -> Nullable<Text>,
        prefecture_id -> Integer,
        template_key -> Text,
        institution_id -> Nullable<Integer>,
        user_id -> Nullable<Integer>,
        to_address -> Text,
        context -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        resent_after_crash -> Bool,
        last_answer -> Nullable<Text>,
        subject -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    account_applications (id) {
        id -> Integer,
        code_typed -> Text,
        institution_id -> Nullable<Integer>,
        name_typed -> Text,
        person -> Text,
        email -> Text,
        phone -> Text,
        state -> Text,
        flags -> Text,
        reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Integer>,
        user_id -> Nullable<Integer>,
    }
}

diesel::table! {
    account_links (id) {
        id -> Integer,
        user_id -> Integer,
        purpose -> Text,
        outbox_id -> Nullable<Integer>,
        token_hash -> Text,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    publication_rules (prefecture_id) {
        prefecture_id -> Integer,
        threshold -> Integer,
        small_population -> Integer,
        small_threshold -> Integer,
        hidden_below -> Integer,
        area_threshold -> Integer,
        medical_area_threshold -> Integer,
        total_threshold -> Integer,
        min_institutions -> Integer,
        mark -> Text,
        prefecture_url -> Text,
        explanation -> Text,
        updated_by -> Nullable<Integer>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    municipality_populations (area_id) {
        area_id -> Integer,
        population -> BigInt,
        source -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    publications (id) {
        id -> Integer,
        prefecture_id -> Integer,
        fiscal_year -> Integer,
        published_at -> Timestamp,
        published_by -> Nullable<Integer>,
        confirmed_until -> Nullable<Timestamp>,
        institutions -> Integer,
        rules -> Text,
        tables -> Text,
        raw_tables -> Text,
    }
}

diesel::table! {
    public_institutions (publication_id, institution_id) {
        publication_id -> Integer,
        institution_id -> Integer,
        code -> Text,
        name -> Text,
        search_key -> Text,
        category -> Text,
        jurisdiction_id -> Nullable<Integer>,
        municipality_id -> Nullable<Integer>,
        postcode -> Nullable<Text>,
        address -> Text,
        phone -> Nullable<Text>,
        function1 -> Bool,
        after_hours -> Bool,
        admission_discharge -> Bool,
        home_care -> Bool,
        care_coordination -> Bool,
        primary_areas -> BigInt,
        diseases -> BigInt,
        confirmed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    public_details (publication_id, institution_id) {
        publication_id -> Integer,
        institution_id -> Integer,
        detail -> Text,
    }
}

diesel::joinable!(reports -> institutions (institution_id));
diesel::joinable!(mail_outbox -> mail_campaigns (campaign_id));
diesel::joinable!(mail_outbox -> institutions (institution_id));
diesel::joinable!(report_versions -> reports (report_id));
diesel::joinable!(report_memos -> reports (report_id));
diesel::joinable!(users -> institutions (institution_id));
diesel::joinable!(institution_name_grams -> institutions (institution_id));
diesel::joinable!(users -> areas (area_id));
diesel::joinable!(sessions -> users (user_id));

diesel::joinable!(public_institutions -> publications (publication_id));

diesel::joinable!(account_links -> users (user_id));

diesel::joinable!(account_applications -> institutions (institution_id));

diesel::table! {
    notices (id) {
        id -> Integer,
        prefecture_id -> Integer,
        title -> Text,
        body -> Text,
        important -> Bool,
        on_login -> Bool,
        publish_from -> Timestamp,
        publish_until -> Nullable<Timestamp>,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    faqs (id) {
        id -> Integer,
        prefecture_id -> Integer,
        category -> Text,
        question -> Text,
        answer -> Text,
        position -> Integer,
        search_key -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    documents (id) {
        id -> Integer,
        prefecture_id -> Integer,
        title -> Text,
        description -> Text,
        file_name -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    document_chunks (document_id, seq) {
        document_id -> Integer,
        seq -> Integer,
        data -> Binary,
    }
}

diesel::joinable!(document_chunks -> documents (document_id));

diesel::allow_tables_to_appear_in_same_query!(
    notices,
    faqs,
    documents,
    document_chunks,
    account_applications,
    account_links,
    publication_rules,
    municipality_populations,
    publications,
    public_institutions,
    public_details,
    mail_templates,
    mail_campaigns,
    mail_outbox,
    areas,
    review_entries,
    review_years,
    institutions,
    institution_name_grams,
    meta,
    users,
    audit_log,
    imports,
    catalogs,
    reporting_periods,
    ndb_counts,
    reports,
    report_versions,
    report_memos,
    memo_reads,
    bulk_confirmations,
    sessions
);
