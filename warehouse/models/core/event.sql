-- description: One row per distinct event after de-duplication and supersession, in one vocabulary for all sources, placed on a stage of the pathway. A trade certificate earned in adult upper secondary (result fagbrev) appears twice: as the completion of upper secondary and as the trade_certificate milestone.
-- not_null: person_id, event_date, source, stage, event_type, source_file
-- grain: person
with intro as (
    select
        person_id,
        event_date,
        'intro' as source,
        case
            when event = 'bosatt' then 'settlement'
            when event = 'overgang' and detail in ('arbeid', 'arbeid_og_utdanning') then 'work'
            else 'intro'
        end as stage,
        case event
            when 'bosatt' then 'settled'
            when 'startet' then 'started'
            when 'permisjon' then 'leave_started'
            when 'gjenopptatt' then 'resumed'
            when 'fullfort' then 'completed'
            when 'avbrutt' then case when detail = 'flyttet' then 'transferred' else 'dropped_out' end
            when 'overgang' then 'transition'
        end as event_type,
        municipality_code,
        null::varchar as school_orgnr,
        null::varchar as programme,
        detail,
        source_file
    from staging.stg_intro
),

adult_education as (
    select
        person_id, event_date, 'adult_education' as source, level as stage, event as event_type,
        municipality_code, school_orgnr, programme, result as detail, source_file
    from staging.stg_adult_education
    union all
    select
        person_id, event_date, 'adult_education', 'trade_certificate', 'passed',
        municipality_code, school_orgnr, programme, result, source_file
    from staging.stg_adult_education
    where event = 'completed' and result = 'fagbrev'
),

combination_classes as (
    select
        person_id, applied_date as event_date, 'combination_classes' as source, 'combination' as stage,
        'applied' as event_type, municipality_code, school_orgnr, null::varchar as programme,
        null::varchar as detail, source_file
    from staging.stg_combination_classes
    union all
    select
        person_id, start_date, 'combination_classes', 'combination', 'started',
        municipality_code, school_orgnr, null, null, source_file
    from staging.stg_combination_classes
    where start_date is not null
    union all
    select
        person_id, end_date, 'combination_classes', 'combination',
        case status when 'Fullført' then 'completed' when 'Avbrutt' then 'dropped_out' else 'transferred' end,
        municipality_code, school_orgnr, null, status, source_file
    from staging.stg_combination_classes
    where end_date is not null
),

trondelag_model_staged as (
    select
        *,
        case event_type
            when 'mobilised' then 'work_training'
            when 'work_training_started' then 'work_training'
            when 'work_training_ended' then 'work_training'
            when 'school_place_applied' then 'upper_secondary'
            when 'school_place_started' then 'upper_secondary'
            when 'apprenticeship_started' then 'apprenticeship'
            when 'apprenticeship_ended' then 'apprenticeship'
            when 'trade_certificate_passed' then 'trade_certificate'
            when 'trade_certificate_failed' then 'trade_certificate'
            when 'employed' then 'work'
        end as mapped_stage
    from staging.stg_trondelag_model
),

trondelag_model as (
    select
        person_id,
        event_date,
        'trondelag_model' as source,
        -- left_programme belongs to the stage the person was on when leaving
        coalesce(mapped_stage, last_value(mapped_stage ignore nulls) over (
            partition by case_id order by event_date, event_index
            rows between unbounded preceding and 1 preceding
        ), 'work_training') as stage,
        case event_type
            when 'work_training_started' then 'started'
            when 'work_training_ended' then 'completed'
            when 'school_place_applied' then 'applied'
            when 'school_place_started' then 'started'
            when 'apprenticeship_started' then 'started'
            when 'apprenticeship_ended' then 'ended'
            when 'trade_certificate_passed' then 'passed'
            when 'trade_certificate_failed' then 'failed'
            when 'employed' then 'started'
            else event_type
        end as event_type,
        municipality_code,
        null::varchar as school_orgnr,
        null::varchar as programme,
        coalesce(trade, sector, reason) as detail,
        source_file
    from trondelag_model_staged
),

final as (
    select * from intro
    union all
    select * from adult_education
    union all
    select * from combination_classes
    union all
    select * from trondelag_model
)

select * from final
