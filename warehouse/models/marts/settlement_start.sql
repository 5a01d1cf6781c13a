-- description: One row per person with a settlement: the first introduction-programme start and the first Norwegian-tuition start on or after the settlement date (the earliest `bosatt`, as in core.person), days to each, and whether each began within three calendar months of settlement (the law's deadline: on or before settlement_date + 3 months, the month's last day where the day does not exist, so 30 November + 3 months = 28/29 February). True/false once decided; null while the deadline is after as_of and there is no start yet. A start before the settlement date is not counted.
-- unique: person_id
-- not_null: person_id, settlement_date
-- grain: person
with persons as (
    select person_id, settlement_date, settlement_municipality_code
    from core.person
    where settlement_date is not null
),

intro_starts as (
    select person_id, event_date as start_date
    from staging.stg_intro
    where event = 'startet'
),

norwegian_starts as (
    select person_id, event_date as start_date
    from staging.stg_adult_education
    where event = 'started' and level = 'norwegian'
),

first_intro as (
    select p.person_id, min(i.start_date) as intro_start_date
    from persons p
    inner join intro_starts i on p.person_id = i.person_id and p.settlement_date <= i.start_date
    group by p.person_id
),

first_norwegian as (
    select p.person_id, min(n.start_date) as norwegian_start_date
    from persons p
    inner join norwegian_starts n on p.person_id = n.person_id and p.settlement_date <= n.start_date
    group by p.person_id
),

joined as (
    select
        p.*,
        i.intro_start_date,
        n.norwegian_start_date,
        (p.settlement_date + interval 3 month)::date as deadline_3_months
    from persons p
    left join first_intro i using (person_id)
    left join first_norwegian n using (person_id)
),

final as (
    select
        person_id,
        settlement_date,
        settlement_municipality_code,
        intro_start_date,
        norwegian_start_date,
        (intro_start_date - settlement_date)::integer as days_to_intro,
        (norwegian_start_date - settlement_date)::integer as days_to_norwegian,
        case
            when intro_start_date is not null then intro_start_date <= deadline_3_months
            when deadline_3_months > getvariable('as_of')::date then null
            else false
        end as intro_within_3_months,
        case
            when norwegian_start_date is not null then norwegian_start_date <= deadline_3_months
            when deadline_3_months > getvariable('as_of')::date then null
            else false
        end as norwegian_within_3_months
    from joined
)

select * from final
