-- description: One row per person and introduction-programme spell, with the direct transition registered at its end (`overgang`) and the national indicator: in work or education (a work, primary, combination, upper_secondary or apprenticeship spell ongoing) on 30 November the year after the programme ended; null while ongoing or when that date is after as_of.
-- unique: person_id, start_date
-- not_null: person_id, municipality_code, start_date, end_type
-- Like the spells, transitions are per municipality: the overgang a municipality
-- registers at or after the end of its own programme spell.
-- grain: person
with spells as (
    select
        *,
        lead(start_date) over (partition by person_id, municipality_code order by start_date) as next_start
    from marts.stage_spell
    where stage = 'intro'
),

transitions as (
    select person_id, municipality_code, event_date, detail
    from staging.stg_intro
    where event = 'overgang'
),

with_transition as (
    select s.*, t.detail as direct_transition
    from spells s
    left join transitions t
    on
        s.person_id = t.person_id
        and s.municipality_code = t.municipality_code
        and s.end_date is not null
        and s.end_date <= t.event_date
        and (s.next_start is null or s.next_start > t.event_date)
    qualify row_number() over (partition by s.person_id, s.start_date order by t.event_date nulls last) = 1
),

measured as (
    select
        *,
        case when end_date is not null then make_date(year(end_date) + 1, 11, 30) end as measured_on
    from with_transition
),

in_work_or_education as (
    select m.person_id, m.start_date, count(o.person_id) > 0 as active
    from measured m
    left join marts.stage_spell o
    on
        m.person_id = o.person_id
        and o.stage in ('work', 'primary', 'combination', 'upper_secondary', 'apprenticeship')
        and m.measured_on >= o.start_date and (o.end_date is null or m.measured_on <= o.end_date)
    where m.measured_on is not null
    group by all
),

final as (
    select
        m.person_id, m.municipality_code, m.start_date, m.end_date, m.end_type, m.direct_transition,
        case
            when m.measured_on is null or m.measured_on > getvariable('as_of')::date then null
            else coalesce(w.active, false)
        end as in_work_or_education_nov_next_year
    from measured m
    left join in_work_or_education w using (person_id, start_date)
)

select * from final
