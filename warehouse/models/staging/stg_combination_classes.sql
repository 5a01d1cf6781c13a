-- description: Combination-class applications as they stood on as_of, one row per pupil, school and application date. Each school's newest list for a school year replaces its older lists completely (snapshot semantics); a pupil who stays several school years is on each year's list with the same application and start, and is one application whose status and end come from the newest school year's list that holds the pupil. Dates after as_of are not yet known: a start after as_of is still waiting (Venter), an end after as_of still active (Aktiv).
-- unique: person_id, school_orgnr, applied_date
-- not_null: person_id, school_orgnr, school_year, applied_date, status
-- source: combination_classes
with source as (
    select * from raw.combination_class_row
),

newest_lists as (
    select s.*
    from source s
    inner join staging.stg_delivery d on s.source_sha256 = d.sha256 and s.source_file = d.file_name
    where d.newest_of_snapshot
),

as_of_cut as (
    select
        *,
        case when startdato <= getvariable('as_of')::date then startdato end as start_known,
        case
            when startdato <= getvariable('as_of')::date and sluttdato <= getvariable('as_of')::date
                then sluttdato
        end as end_known
    from newest_lists
    where soknadsdato <= getvariable('as_of')::date
),

across_school_years as (
    select
        *,
        min(school_year) over (partition by elev_pid, school_orgnr, soknadsdato) as first_school_year
    from as_of_cut
    qualify row_number() over (
        partition by elev_pid, school_orgnr, soknadsdato
        order by school_year desc, row_number asc
    ) = 1
),

renamed as (
    select
        elev_pid as person_id,
        kjonn as sex,
        fodselsaar as birth_year,
        bostedskommune as municipality_code,
        soknadsdato as applied_date,
        start_known as start_date,
        end_known as end_date,
        case
            when start_known is null then 'Venter'
            when end_known is null then 'Aktiv'
            else status
        end as status,
        school_orgnr,
        first_school_year,
        school_year,
        source_file,
        row_number as source_row,
        delivery_date
    from across_school_years
)

select * from renamed
