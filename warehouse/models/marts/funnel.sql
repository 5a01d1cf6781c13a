-- description: Persons reaching each stage, by settlement cohort (year of settlement_date) and settlement municipality; a person counts once per stage (a spell on it, or for the milestones settlement and trade_certificate the event). Persons with no settlement are counted under a null cohort_year.
-- not_null: stage, persons
with persons as (
    select person_id, year(settlement_date) as cohort_year, settlement_municipality_code as municipality_code
    from core.person
),

reached as (
    select distinct person_id, stage from marts.stage_spell
    union
    select distinct person_id, stage from core.event
    where (stage = 'settlement' and event_type = 'settled') or (stage = 'trade_certificate' and event_type = 'passed')
),

final as (
    select p.cohort_year, p.municipality_code, r.stage, count(distinct r.person_id) as persons
    from reached r
    inner join persons p using (person_id)
    group by all
)

select * from final
