-- description: The follow-up list (issue 15): one row per person and reason to contact them. `dropped_out`: the person's most recent spell ended dropped_out and nothing has started since; `no_next_step`: it ended completed or transferred at least `follow_up_days` days before `as_of` and nothing has started since; `long_wait`: an application for a school place has waited more than `follow_up_wait_days` days (the longest one). "Nothing since" means no spell starting on or after that end, no application on or after it, and no spell or application still open (a person still on another stage, in work or waiting for a place is being followed elsewhere). Person-level (pseudonyms): read only by the follow-up role, scoped by `municipality_code`; `listed_from` is the first day the person belonged on the list, which the load's alert compares with the previous build.
-- unique: person_id, reason
-- not_null: person_id, reason, stage, source, event_date, days_since, listed_from
-- grain: person
with spells as (
    select * from marts.stage_spell
),

applications as (
    select * from marts.school_place_wait
),

latest_end as (
    -- the person's most recent end (a drop-out wins a tie: it asks for contact now)
    select person_id, stage, source, start_date, end_date, end_type, end_reason, municipality_code, school_orgnr
    from spells
    where end_type in ('completed', 'dropped_out', 'transferred')
    qualify row_number() over (
        partition by person_id
        order by
            end_date desc, (end_type = 'dropped_out') desc, stage, source asc,
            start_date desc, school_orgnr asc nulls last, municipality_code asc nulls last
    ) = 1
),

moved_on as (
    select distinct e.person_id
    from latest_end e
    inner join spells s on e.person_id = s.person_id
    where
        s.end_type = 'ongoing'
        or (
            s.start_date >= e.end_date
            and not (s.stage = e.stage and s.source = e.source and s.start_date = e.start_date)
        )
    union
    select distinct e.person_id
    from latest_end e
    inner join applications a on e.person_id = a.person_id
    where a.status = 'waiting' or a.applied_date >= e.end_date
),

ended_without_next_step as (
    select
        e.person_id,
        case when e.end_type = 'dropped_out' then 'dropped_out' else 'no_next_step' end as reason,
        e.stage, e.source, e.end_date as event_date, e.end_type, e.end_reason as detail,
        e.municipality_code, e.school_orgnr,
        case
            when e.end_type = 'dropped_out' then e.end_date
            else e.end_date + getvariable('follow_up_days')::integer
        end as listed_from
    from latest_end e
    where e.person_id not in (select mo.person_id from moved_on mo)
),

long_waits as (
    select
        person_id, 'long_wait' as reason, stage, source, applied_date as event_date, 'waiting' as end_type,
        null::varchar as detail, municipality_code, school_orgnr,
        applied_date + getvariable('follow_up_wait_days')::integer + 1 as listed_from
    from applications
    where status = 'waiting' and wait_days > getvariable('follow_up_wait_days')::integer
    qualify row_number() over (
        partition by person_id
        order by applied_date, stage, source, school_orgnr nulls last, municipality_code nulls last
    ) = 1
),

listed as (
    select * from ended_without_next_step
    where listed_from <= getvariable('as_of')::date
    union all
    select * from long_waits
),

final as (
    select
        l.person_id, l.reason, l.stage, l.source, l.event_date, l.end_type, l.detail,
        l.municipality_code, coalesce(m.municipality_name, l.municipality_code) as municipality_name,
        l.school_orgnr, s.school_name,
        getvariable('as_of')::date - l.event_date as days_since,
        l.listed_from
    from listed l
    left join reference.municipality m on l.municipality_code = m.municipality_code
    left join reference.school s on l.school_orgnr = s.school_orgnr
)

select * from final
