-- description: One row per application for a school place (with the Udir programme for adult upper secondary, an addition to the contract's columns) (adult education `applied`, a combination-class application, a Trøndelag-model `school_place_applied`); applications are not merged across sources. An application lasts until it is started or withdrawn (a Trøndelag-model case's `left_programme` withdraws it) or until the same person applies again for the same place (adult education: same level and school; Trøndelag model: same case): an application replaced by a new one before it started counts as withdrawn, so nobody waits twice for one place. `wait_days` is started − applied when started, as_of − applied while waiting (never below 0), null when withdrawn.
-- unique: person_id, source, stage, school_orgnr, applied_date
-- not_null: person_id, source, stage, applied_date, status
-- grain: person
with ae_applied_once as (
    -- an application registered twice on one day (two event ids) is one application
    select person_id, level, school_orgnr, programme, municipality_code, event_date as applied_date
    from staging.stg_adult_education
    where event = 'applied'
    qualify row_number() over (partition by person_id, level, school_orgnr, event_date order by event_id) = 1
),

ae_applied as (
    select
        *,
        lead(applied_date) over (partition by person_id, level, school_orgnr order by applied_date) as next_applied
    from ae_applied_once
),

ae_later as (
    select person_id, level, school_orgnr, event, event_date
    from staging.stg_adult_education
    where event in ('offered', 'started', 'withdrawn')
),

ae_applications as (
    select
        a.person_id, 'adult_education' as source, a.level as stage, a.school_orgnr, a.programme,
        a.municipality_code, a.applied_date,
        min(l.event_date) filter (where l.event = 'offered') as offered_date,
        min(l.event_date) filter (where l.event = 'started') as started_date,
        coalesce(min(l.event_date) filter (where l.event = 'withdrawn'), any_value(a.next_applied)) as withdrawn_date
    from ae_applied a
    left join ae_later l
    on
        a.person_id = l.person_id and a.level = l.level and a.school_orgnr = l.school_orgnr
        and a.applied_date <= l.event_date and (a.next_applied is null or a.next_applied > l.event_date)
    group by all
),

combination_applications as (
    select
        person_id, 'combination_classes' as source, 'combination' as stage, school_orgnr,
        null::varchar as programme, municipality_code,
        applied_date, null::date as offered_date, start_date as started_date, null::date as withdrawn_date
    from staging.stg_combination_classes
),

tm_applied_once as (
    -- one application per case and day
    select case_id, person_id, municipality_code, event_date as applied_date
    from staging.stg_trondelag_model
    where event_type = 'school_place_applied'
    qualify row_number() over (partition by case_id, event_date order by event_index) = 1
),

tm_applied as (
    select *, lead(applied_date) over (partition by case_id order by applied_date) as next_applied
    from tm_applied_once
),

tm_applications as (
    select
        a.person_id, 'trondelag_model' as source, 'upper_secondary' as stage, null::varchar as school_orgnr,
        null::varchar as programme, a.municipality_code, a.applied_date, null::date as offered_date,
        min(t.event_date) filter (where t.event_type = 'school_place_started') as started_date,
        coalesce(min(t.event_date) filter (where t.event_type = 'left_programme'), any_value(a.next_applied))
            as withdrawn_date
    from tm_applied a
    left join staging.stg_trondelag_model t
    on
        a.case_id = t.case_id and a.applied_date <= t.event_date
        and (a.next_applied is null or a.next_applied > t.event_date)
        and t.event_type in ('school_place_started', 'left_programme')
    group by all
),

-- Two cases of one person applying on the same day are one application (the one that
-- started first, else the one still waiting), so the published key is unique.
tm_applications_per_person as (
    select * from tm_applications
    qualify row_number() over (
        partition by person_id, applied_date
        order by started_date nulls last, withdrawn_date nulls first, municipality_code
    ) = 1
),

applications as (
    select * from ae_applications
    union all
    select * from combination_applications
    union all
    select * from tm_applications_per_person
),

final as (
    select
        person_id, source, stage, school_orgnr, municipality_code, applied_date, offered_date,
        programme,
        case when status = 'started' then started_date end as started_date,
        status,
        case status
            when 'started' then started_date - applied_date
            when 'waiting' then greatest(getvariable('as_of')::date - applied_date, 0)
        end as wait_days
    from (
        select
            *,
            case
                when withdrawn_date is not null and (started_date is null or withdrawn_date < started_date)
                    then 'withdrawn'
                when started_date is not null then 'started'
                else 'waiting'
            end as status
        from applications
    ) with_status
)

select * from final
