-- description: One row per person with a settlement, for survival curves from the settlement date: the first start on or after settlement of a work spell, and of a spell on work or education (primary, combination, upper_secondary, apprenticeship); days to it, or to as_of when it has not happened (censored, reached_* false). Cohort, settlement municipality, sex, age group at settlement (the dashboard's groups, as dash.person_filter) and country background for grouping.
-- unique: person_id
-- not_null: person_id, cohort_year, days_to_work, days_to_work_or_education, reached_work, reached_work_or_education
-- grain: person
with persons as (
    select * from core.person
    where settlement_date is not null
),

starts as (
    select person_id, stage, start_date
    from marts.stage_spell
    where stage in ('work', 'primary', 'combination', 'upper_secondary', 'apprenticeship')
),

first_after_settlement as (
    select
        p.person_id,
        min(s.start_date) filter (where s.stage = 'work') as work_date,
        min(s.start_date) as work_or_education_date
    from persons p
    inner join starts s on p.person_id = s.person_id and p.settlement_date <= s.start_date
    group by p.person_id
),

final as (
    select
        p.person_id,
        year(p.settlement_date) as cohort_year,
        p.settlement_municipality_code,
        p.sex,
        case
            when p.birth_year is null then null
            when year(p.settlement_date) - p.birth_year <= 25 then '16–25'
            when year(p.settlement_date) - p.birth_year <= 35 then '26–35'
            when year(p.settlement_date) - p.birth_year <= 45 then '36–45'
            when year(p.settlement_date) - p.birth_year <= 55 then '46–55'
            else '56+'
        end as age_group,
        p.country_background,
        f.work_date,
        f.work_or_education_date,
        (coalesce(f.work_date, getvariable('as_of')::date) - p.settlement_date)::integer as days_to_work,
        (coalesce(f.work_or_education_date, getvariable('as_of')::date) - p.settlement_date)::integer
            as days_to_work_or_education,
        f.work_date is not null as reached_work,
        f.work_or_education_date is not null as reached_work_or_education
    from persons p
    left join first_after_settlement f using (person_id)
)

select * from final
