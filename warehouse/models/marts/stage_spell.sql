-- description: One row per person per spell on a stage, with how it ended (completed, dropped_out, transferred, ongoing). Spells are paired from the staging models, which keep the keys a pairing needs: the municipality of an intro event (a person who moves has a spell in each municipality, whatever order their files arrive in), the school of an adult-education course, the case of a Trøndelag-model event. Where two records would open the same spell (two cases of one person opening a stage on the same day, a start registered twice under two event ids), one spell is kept, so the key is unique by construction. `settlement` and `trade_certificate` are milestones, not spells.
-- unique: person_id, stage, source, start_date, school_orgnr
-- not_null: person_id, stage, source, start_date, end_type
-- How starts and ends pair, for every source: a start belongs to the spell that the first
-- end on or after it closes. Starts registered while a spell is still open (a restart
-- with no end in between) fall inside that spell instead of opening an overlapping one,
-- so spells of one place never overlap and every start is in exactly one spell. An end
-- that closes a spell opened before its day (`closes_earlier_start`) is not also taken by
-- a start on that same day: that start is a restart (completed A2 and started B1 on the
-- same day), so it opens a new spell; a start and an end alone on one day are a one-day spell.
-- grain: person

-- Intro spells are per municipality: a startet is ended only by a fullfort or avbrutt of
-- the same municipality.
with intro_starts as (
    select person_id, municipality_code, event_date as start_date
    from staging.stg_intro
    where event = 'startet'
),

intro_end_events as (
    select
        person_id, municipality_code, event_date, event, detail,
        lag(event_date) over (partition by person_id, municipality_code order by event_date, event) as previous_end
    from staging.stg_intro
    where event in ('fullfort', 'avbrutt')
),

intro_ends as (
    select
        e.*, exists(
            select 1 from intro_starts s
            where
                s.person_id = e.person_id and s.municipality_code = e.municipality_code
                and s.start_date < e.event_date and (e.previous_end is null or s.start_date >= e.previous_end)
        ) as closes_earlier_start
    from intro_end_events e
),

intro_paired as (
    select s.person_id, s.municipality_code, s.start_date, e.event_date as end_date, e.event, e.detail
    from intro_starts s
    left join intro_ends e
    on
        s.person_id = e.person_id and s.municipality_code = e.municipality_code
        and (s.start_date < e.event_date or (s.start_date = e.event_date and not e.closes_earlier_start))
    qualify row_number() over (
        partition by s.person_id, s.municipality_code, s.start_date
        order by e.event_date nulls last, e.event
    ) = 1
),

intro_spells as (
    select
        person_id, 'intro' as stage, 'intro' as source, min(start_date) as start_date, end_date,
        case
            when event is null then 'ongoing'
            when event = 'fullfort' then 'completed'
            when detail = 'flyttet' then 'transferred'
            else 'dropped_out'
        end as end_type,
        case when event = 'avbrutt' then detail end as end_reason,
        municipality_code, null::varchar as school_orgnr, null::varchar as programme
    from intro_paired
    group by person_id, municipality_code, end_date, event, detail
),

course_starts as (
    select person_id, level, school_orgnr, programme, municipality_code, event_date as start_date, event_id
    from staging.stg_adult_education
    where event = 'started'
),

course_end_events as (
    select
        person_id, level, school_orgnr, event_date, event, result, event_id,
        lag(event_date) over (partition by person_id, level, school_orgnr order by event_date, event, event_id)
            as previous_end
    from staging.stg_adult_education
    where event in ('completed', 'dropped_out')
),

course_ends as (
    select
        e.*, exists(
            select 1 from course_starts s
            where
                s.person_id = e.person_id and s.level = e.level and s.school_orgnr = e.school_orgnr
                and s.start_date < e.event_date and (e.previous_end is null or s.start_date >= e.previous_end)
        ) as closes_earlier_start
    from course_end_events e
),

course_paired as (
    select s.*, e.event_date as end_date, e.event as end_event, e.result
    from course_starts s
    left join course_ends e
    on
        s.person_id = e.person_id and s.level = e.level and s.school_orgnr = e.school_orgnr
        and (s.start_date < e.event_date or (s.start_date = e.event_date and not e.closes_earlier_start))
    qualify row_number() over (partition by s.event_id order by e.event_date nulls last, e.event, e.event_id) = 1
),

adult_education_spells as (
    select
        person_id, level as stage, 'adult_education' as source, min(start_date) as start_date, end_date,
        coalesce(end_event, 'ongoing') as end_type,
        case when end_event = 'completed' then result end as end_reason,
        arg_min(municipality_code, start_date::varchar || event_id) as municipality_code, school_orgnr,
        arg_min(programme, start_date::varchar || event_id) as programme
    from course_paired
    group by person_id, level, school_orgnr, end_date, end_event, result
),

combination_spells as (
    select
        person_id, 'combination' as stage, 'combination_classes' as source, start_date, end_date,
        case status
            when 'Aktiv' then 'ongoing'
            when 'Fullført' then 'completed'
            when 'Avbrutt' then 'dropped_out'
            when 'Overført Vg1' then 'transferred'
        end as end_type,
        null::varchar as end_reason, municipality_code, school_orgnr, null::varchar as programme
    from staging.stg_combination_classes
    where start_date is not null
    -- two applications to one school with the same start are one spell: the newest list's
    qualify row_number() over (
        partition by person_id, school_orgnr, start_date
        order by school_year desc, applied_date desc
    ) = 1
),

tm as (
    select * from staging.stg_trondelag_model
),

tm_openers as (
    select
        case_id, person_id, municipality_code, event_date as start_date,
        case event_type
            when 'work_training_started' then 'work_training'
            when 'school_place_started' then 'upper_secondary'
            when 'apprenticeship_started' then 'apprenticeship'
        end as stage
    from tm
    where event_type in ('work_training_started', 'school_place_started', 'apprenticeship_started')
),

-- What ends a spell of each stage, and how; on the same day a pass wins over an end.
tm_closers as (
    select
        case_id,
        'work_training' as stage,
        event_date,
        'completed' as end_type,
        null::varchar as end_reason,
        1 as priority
    from tm
    where event_type = 'work_training_ended'
    union all
    select case_id, 'upper_secondary', event_date, 'transferred', null, 1
    from tm
    where event_type = 'apprenticeship_started'
    union all
    select case_id, 'apprenticeship', event_date, 'completed', null, 1
    from tm
    where event_type = 'trade_certificate_passed'
    union all
    select case_id, 'apprenticeship', event_date, 'dropped_out', null, 2
    from tm
    where event_type = 'apprenticeship_ended'
    union all
    select
        tm.case_id, stages.stage, tm.event_date,
        case when tm.reason = 'moved' then 'transferred' else 'dropped_out' end, tm.reason, 3
    from tm cross join (values ('work_training'), ('upper_secondary'), ('apprenticeship')) stages (stage)
    where tm.event_type = 'left_programme'
),

tm_closers_claimed as (
    select
        c.*, exists(
            select 1 from tm_openers o
            where
                o.case_id = c.case_id and o.stage = c.stage
                and o.start_date < c.event_date and (c.previous_end is null or o.start_date >= c.previous_end)
        ) as closes_earlier_start
    from (
        select *, lag(event_date) over (partition by case_id, stage order by event_date, priority) as previous_end
        from tm_closers
    ) c
),

tm_paired as (
    select
        o.case_id, o.person_id, o.stage, o.start_date, o.municipality_code,
        c.event_date as end_date, c.end_type, c.end_reason, c.priority
    from tm_openers o
    left join tm_closers_claimed c
    on
        o.case_id = c.case_id and o.stage = c.stage
        and (o.start_date < c.event_date or (o.start_date = c.event_date and not c.closes_earlier_start))
    qualify row_number() over (
        partition by o.case_id, o.stage, o.start_date
        order by c.event_date nulls last, c.priority
    ) = 1
),

tm_spells as (
    select
        case_id, person_id, stage, 'trondelag_model' as source, min(start_date) as start_date,
        end_date, coalesce(end_type, 'ongoing') as end_type, end_reason,
        arg_min(municipality_code, start_date) as municipality_code, null::varchar as school_orgnr,
        null::varchar as programme
    from tm_paired
    group by case_id, person_id, stage, end_date, end_type, end_reason, priority
),

-- Two cases of one person opening the same stage on the same day are one spell: the one
-- that ended last (an ongoing spell counts as latest), then the higher case id.
tm_spells_per_person as (
    select * exclude (case_id)
    from tm_spells
    qualify row_number() over (
        partition by person_id, stage, start_date
        order by end_date desc nulls first, case_id desc
    ) = 1
),

-- No source reports the end of a job: work spells stay ongoing.
work_spells as (
    select
        person_id, 'work' as stage, 'trondelag_model' as source, event_date as start_date,
        null::date as end_date, 'ongoing' as end_type, null::varchar as end_reason,
        municipality_code, null::varchar as school_orgnr, null::varchar as programme
    from tm
    where event_type = 'employed'
    qualify row_number() over (partition by person_id, event_date order by case_id desc) = 1
    union all
    select person_id, 'work', 'intro', event_date, null, 'ongoing', null, municipality_code, null, null
    from staging.stg_intro
    where event = 'overgang' and detail in ('arbeid', 'arbeid_og_utdanning')
),

final as (
    select * from intro_spells
    union all
    select * from adult_education_spells
    union all
    select * from combination_spells
    union all
    select * from tm_spells_per_person
    union all
    select * from work_spells
)

select * from final
